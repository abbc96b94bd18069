"""Turning a committed event into device commands, and keeping the plan whole while it runs.

``activation.activate_event`` plans an event once per modification number: it records an
``EventPlanRun`` and one ``EventParticipant`` per vehicle considered (dispatched, reserve or
excluded, with the reason), then issues ONE command per dispatched vehicle — the planner's
constant setpoint over the vehicle's active window (randomized start and hour cap included).
A later revision (an extension) plans again from that moment: the previous revision's live
commands are withdrawn (cancelled through the adapters), vehicles still dispatched get the
new revision's command, the others a restore.

``replanning.replan_event`` runs while the event is notified or active (beat every minute, and
at once after an opt-out or a rejected / failed command): dispatched vehicles that opted out,
whose command was rejected or failed, that went offline or unplugged, or whose telemetry shows
they are not delivering are dropped (restore command, live commands withdrawn) and reserves
are brought in, in their fair order, until every interval not yet over meets the goal again.

``restores.cancel_or_end`` sends restore commands after a cancellation or an early end, and
withdraws the event's live commands.

Every command is keyed by (``dispatch.event``, event id, vehicle, revision, sequence), so
running any of these again issues nothing new (``commands``). All three take the caller's
``utility_id`` and run inside that utility's scope, with the event row locked
(``base.locked_event``), so two workers never plan the same event at once and an event id of
another utility is refused (``UnknownEvent``), never acted on in the other utility's scope.
The planner's inputs are read by ``dispatch.planning.inputs``; what is recorded of each run
(participants, plan runs) is written by ``participants``. Import from those modules.
"""
