"""The simulator's HTTP face: a threading stdlib server in front of a ``FleetCloud``.

POST /<partner-slug>/commands             signed command batch (docs/partner-protocol.md)
POST /<partner-slug>/commands/cancel      signed cancel
GET  /<partner-slug>/commands/<id>        signed status query
GET|POST|DELETE /_admin/faults            inspect / switch on / clear faults (loopback only)
GET  /_admin/state                        commands, vehicles, outbox (loopback only)
GET  /_admin/health                       liveness (loopback only)
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from devices.simulator.cloud import FleetCloud
from devices.simulator.state import Reply

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], cloud: FleetCloud):
        super().__init__(address, SimulatorHandler)
        self.cloud = cloud


class SimulatorHandler(BaseHTTPRequestHandler):
    server: SimulatorHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "FleetSimulator/1.0"

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        logger.debug("%s %s", self.address_string(), format % args)

    def _route(self, method: str) -> None:
        cloud = self.server.cloud
        parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/") if p]
        body = self._body()
        if body is None:
            return
        headers = self.headers  # an email.message.Message: case-insensitive lookups
        match (method, parts):
            case (_, ["_admin", *rest]):
                reply = self._admin(method, rest, body)
            case ("POST", [partner, "commands"]):
                reply = cloud.handle_commands(partner, headers, body)
            case ("POST", [partner, "commands", "cancel"]):
                reply = cloud.handle_cancel(partner, headers, body)
            case ("GET", [partner, "commands", command_id]):
                reply = cloud.handle_status(partner, command_id, headers)
            case _:
                reply = Reply(404, {"error": {"code": "not_found", "message": "No such path."}})
        self._send(reply)

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._send(Reply(413, {"error": {"code": "body_too_large", "message": "Too large."}}))
            return None
        return self.rfile.read(length) if length else b""

    def _admin(self, method: str, rest: list[str], body: bytes) -> Reply:
        cloud = self.server.cloud
        if not ipaddress.ip_address(self.client_address[0].split("%")[0]).is_loopback:
            return Reply(403, {"error": {"code": "forbidden", "message": "Loopback only."}})
        match (method, rest):
            case ("GET", ["health"]):
                return Reply(200, {"status": "ok"})
            case ("GET", ["state"]):
                return Reply(200, cloud.state())
            case ("GET", ["faults"]):
                return Reply(200, cloud.faults.as_dict(now=cloud.clock()))
            case ("DELETE", ["faults"]):
                return Reply(200, cloud.reset_faults())
            case ("POST", ["faults"]):
                try:
                    changes = json.loads(body or b"{}")
                    if not isinstance(changes, dict):
                        raise ValueError("Send a JSON object of faults.")
                    return Reply(200, cloud.set_faults(changes))
                except ValueError as error:
                    message = str(error)
                    return Reply(400, {"error": {"code": "invalid_faults", "message": message}})
        return Reply(404, {"error": {"code": "not_found", "message": "No such admin path."}})

    def _send(self, reply: Reply) -> None:
        if reply.hang_seconds > 0:
            # A partner that stops answering: hold the connection, then drop it unanswered.
            time.sleep(reply.hang_seconds)
            self.close_connection = True
            return
        if reply.delay_seconds > 0:  # a slow partner: the answer comes, late
            time.sleep(reply.delay_seconds)
        if isinstance(reply.payload, bytes):
            content, content_type = reply.payload, "text/html"
        else:
            content, content_type = json.dumps(reply.payload).encode(), "application/json"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)
