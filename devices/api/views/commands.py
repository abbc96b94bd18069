"""Command endpoints of the partner API: pull pending commands, acknowledge them."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from devices.api import serializers as s
from devices.api.views.base import DeviceAPIMixin
from devices.services.commands import CommandAck, acknowledge_commands, pull_commands
from portal.api.base import PartnerAPIView

COMMAND_EXAMPLE = {
    "command_id": "5d0c8f0e-8a4b-5b8e-9f5e-1a2b3c4d5e6f",
    "utility": "pvp",
    "vehicle_id": "veh-8841",
    "vin": "1FTVW1EL7NWG00001",
    "kind": "discharge",
    "setpoint_kw": -7.2,
    "starts_at": "2026-07-02T00:00:00Z",
    "ends_at": "2026-07-02T03:00:00Z",
    "event_id": "evt-2026-07-01-peak",
    "revision": 0,
    "status": "sent",
}


class CommandPullView(DeviceAPIMixin, PartnerAPIView):
    required_scopes = ["commands:read"]
    # Pulling hands commands over (they become sent): HEAD must not do that unseen.
    http_method_names = ["get", "options"]

    @extend_schema(
        operation_id="commands_pull",
        summary="Pull pending commands",
        description=(
            "Your oldest pending commands that have not ended yet, in the utilities where "
            "your agreement pulls (not where the portal pushes to your webhook). Each one "
            "returned is now sent, and is never returned again, to this or a concurrent "
            "pull: acknowledge it at /api/v1/commands/ack."
        ),
        parameters=[s.CommandPullQuerySerializer],
        responses={200: s.CommandPullSerializer},
        examples=[OpenApiExample("One command", value={"commands": [COMMAND_EXAMPLE]})],
    )
    def get(self, request):
        query = s.CommandPullQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        utility_ids = self.partner_access.utility_ids
        if slug := query.validated_data.get("utility"):
            utility_ids = [self.get_utility(slug).pk]
        commands = pull_commands(
            partner=request.partner,
            utility_ids=utility_ids,
            limit=query.validated_data["limit"],
            **self.partner_access.audit_actor,
        )
        return Response(s.CommandPullSerializer({"commands": commands}).data)


class CommandAckView(DeviceAPIMixin, PartnerAPIView):
    required_scopes = ["commands:write"]

    @extend_schema(
        operation_id="commands_ack",
        summary="Acknowledge commands",
        description=(
            "Report what became of each command: accepted, rejected, completed or failed. "
            "Each acknowledgement gets its own result: unknown_command (not yours, or not in "
            "a utility this client may act in), invalid_transition (e.g. completed → "
            "accepted), or ok — repeating a status the command already has is ok and "
            "changes nothing."
        ),
        request=s.CommandAckSerializer,
        responses={200: s.CommandAckResultSerializer},
        examples=[
            OpenApiExample(
                "Accepted, then completed",
                value={
                    "acks": [
                        {"command_id": COMMAND_EXAMPLE["command_id"], "status": "accepted"},
                        {
                            "command_id": COMMAND_EXAMPLE["command_id"],
                            "status": "completed",
                            "at": "2026-07-02T03:00:05Z",
                        },
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Results",
                value={
                    "results": [
                        {
                            "command_id": COMMAND_EXAMPLE["command_id"],
                            "ok": True,
                            "changed": True,
                            "status": "accepted",
                            "code": "",
                            "message": "",
                        },
                        {
                            "command_id": COMMAND_EXAMPLE["command_id"],
                            "ok": True,
                            "changed": True,
                            "status": "completed",
                            "code": "",
                            "message": "",
                        },
                    ]
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        serializer = s.CommandAckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        results = acknowledge_commands(
            partner=request.partner,
            utility_ids=self.partner_access.utility_ids,
            acks=[CommandAck(**ack) for ack in serializer.validated_data["acks"]],
            **self.partner_access.audit_actor,
        )
        return Response(s.CommandAckResultSerializer({"results": results}).data)
