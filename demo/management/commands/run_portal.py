"""``manage.py run_portal``: the web server, a Celery worker, Celery beat, the OpenADR VENs (2.0b and 3) and (once the demo
is seeded) the fleet simulator in one terminal.

For a laptop or a demo. Each runs as a child process in its own process group, so Ctrl-C
reaches only this command, which then stops all of them the way a Ctrl-C in their own
terminal would (SIGINT to the group: runserver's reloader child and Celery's pool included).
If one of them dies, the others are stopped and the command exits non-zero.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.grid_operator import demo_vtn_argv
from demo.logins import DEMO_PASSWORD, LOGINS
from demo.simulator import demo_simulator_argv
from portal.models import User

GRACE_SECONDS = 20  # for a worker to finish its current task after SIGINT
KILL_AFTER_SECONDS = 5  # after SIGTERM


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.running:
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass


def prepare_runtime_dirs() -> None:
    """What a fresh clone lacks: ``var/`` and, for kombu's filesystem transport, its queue
    folders (the transport fails instead of creating them)."""
    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            if options.get(key):
                Path(options[key]).mkdir(parents=True, exist_ok=True)


class Command(BaseCommand):
    help = (
        "Run the web server (runserver), a Celery worker and Celery beat together. "
        "Ctrl-C stops all three; if one dies the others are stopped too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
        parser.add_argument(
            "--noreload", action="store_true", help="Do not restart the web server on code changes."
        )
        parser.add_argument(
            "--concurrency", type=int, default=2, help="Celery worker processes (default 2)."
        )

    def handle(self, *args, addr: str, port: int, noreload: bool, concurrency: int, **options):
        prepare_runtime_dirs()
        var_dir = Path(settings.VAR_DIR)
        python = sys.executable
        manage_py = str(Path(settings.BASE_DIR) / "manage.py")
        celery = [python, "-m", "celery", "-A", "portal"]
        children = [
            Child("web", [python, manage_py, "runserver", f"{addr}:{port}"]),
            Child("worker", [*celery, "worker", "-l", "info", "--concurrency", str(concurrency)]),
            Child(
                "beat",
                [
                    *celery,
                    "beat",
                    "-l",
                    "info",
                    "--scheduler",
                    settings.CELERY_BEAT_SCHEDULER,
                    "--pidfile",
                    str(var_dir / "celerybeat.pid"),
                    "--schedule",
                    str(var_dir / "celerybeat-schedule"),
                ],
            ),
        ]
        if noreload:
            children[0].argv.append("--noreload")
        # The demo automakers' clouds: a simulator serving every webhook agreement pointed at
        # it (none before seed_demo has run).
        host = "127.0.0.1" if addr in ("0.0.0.0", "") else addr  # noqa: S104
        fleet = demo_simulator_argv(
            python=python, manage_py=manage_py, portal_url=f"http://{host}:{port}"
        )
        if fleet is not None:
            children.append(Child("fleet", fleet))
        # The demo grid operator's OpenADR VTN (when the demo's grid signal source points at it).
        vtn = demo_vtn_argv(python=python, manage_py=manage_py)
        if vtn is not None:
            children.append(Child("vtn", vtn))
        # The OpenADR VEN of the utilities' grid signal sources (idle while there are none);
        # started after the demo VTN, which it registers with.
        children.append(Child("ven", [python, manage_py, "run_ven"]))
        # The OpenADR 3 VEN, a process of its own; the VTNs call this portal back at its address
        # unless OPENADR3_CALLBACK_BASE_URL names another (the children inherit it).
        os.environ.setdefault("OPENADR3_CALLBACK_BASE_URL", f"http://{host}:{port}")
        children.append(Child("ven3", [python, manage_py, "run_ven3"]))

        stop = threading.Event()
        force = threading.Event()

        def request_stop(signum, frame):
            if stop.is_set():
                force.set()  # a second Ctrl-C: do not wait any longer
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, request_stop)

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for child in children:
            self._start(child, env=env, cwd=str(settings.BASE_DIR))
        self._banner(addr, port)

        failed: Child | None = None
        while not stop.is_set():
            failed = next((c for c in children if not c.running), None)
            if failed is not None:
                break
            stop.wait(0.2)

        if failed is not None:
            self.stderr.write(
                f"{failed.name} exited with code {failed.process.returncode}; stopping the others."
            )
        else:
            self.stdout.write("Stopping web, worker, beat and VEN…")
        self._stop_all(children, force=force)
        if failed is not None:
            raise CommandError(f"{failed.name} stopped unexpectedly.")

    def _start(self, child: Child, *, env: dict[str, str], cwd: str) -> None:
        child.process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            child.argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group: signals reach it only through us
        )
        child.pump = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.pump.start()

    def _pump(self, child: Child) -> None:
        """Copy a child's output line by line, prefixed with its name."""
        prefix = f"{child.name:<6}| "
        for line in child.process.stdout:
            try:
                sys.stdout.write(prefix + line)
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                pass

    def _stop_all(self, children: list[Child], *, force: threading.Event) -> None:
        for child in children:
            child.signal_group(signal.SIGINT)
        for signum, wait_seconds in (
            (signal.SIGTERM, GRACE_SECONDS),
            (signal.SIGKILL, KILL_AFTER_SECONDS),
        ):
            deadline = time.monotonic() + wait_seconds
            while any(c.running for c in children) and time.monotonic() < deadline:
                if force.is_set():
                    break
                time.sleep(0.1)
            for child in children:
                if child.running:
                    self.stderr.write(f"{child.name} still running; sending {signum.name}.")
                    child.signal_group(signum)
        for child in children:
            child.process.wait()
            child.pump.join(timeout=2)
        for child in children:
            # A group's stragglers (a pool process that outlived its parent) go too.
            try:
                os.killpg(child.process.pid, signal.SIGKILL)
                self.stderr.write(f"Killed processes {child.name} left behind.")
            except ProcessLookupError:
                pass

    def _banner(self, addr: str, port: int) -> None:
        host = "127.0.0.1" if addr in ("0.0.0.0", "") else addr  # noqa: S104
        url = f"http://{host}:{port}/"
        self.stdout.write(
            f"V2X portal: {url}  (web, Celery worker and beat, OpenADR VEN, fleet simulator; Ctrl-C stops all)"
        )
        self.stdout.write(f"Health: {url}healthz   Admin: {url}admin/   API docs: {url}api/docs/")
        sample = LOGINS[0]
        if User.objects.filter(email=sample.email).exists():
            self.stdout.write(
                f"Demo: sign in as {sample.email} (or any login in README.md) with password "
                f"{DEMO_PASSWORD}; its TOTP code: python manage.py demo_totp {sample.email}"
            )
        else:
            self.stdout.write("No demo data yet: run `python manage.py seed_demo` for logins.")
