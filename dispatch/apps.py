from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = "Demand-response events and dispatch"

    def ready(self) -> None:
        from devices.signals import command_outcomes

        command_outcomes.connect(_replan_on_outcomes, dispatch_uid="dispatch.replan_on_outcomes")


def _replan_on_outcomes(sender, *, utility_id: int, sources, **kwargs) -> None:
    from dispatch import tasks
    from dispatch.execution.commands import SOURCE_TYPE

    tasks.replan_after_command_outcomes(
        utility_id=utility_id,
        source_ids={sid for stype, sid in sources if stype in ("", SOURCE_TYPE)},
    )
