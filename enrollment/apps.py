from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    verbose_name = "Enrollment"

    def ready(self) -> None:
        # Lower layers announce what changed; enrollment answers (they never import it).
        from django.db.models.signals import post_delete, post_save

        from devices.models import ApprovedEquipment
        from devices.signals import equipment_changed
        from portal.customers.signals import accounts_changed, timeline_requested

        timeline_requested.connect(_customer_timeline, dispatch_uid="enrollment.customer_timeline")
        equipment_changed.connect(_inputs_changed, dispatch_uid="enrollment.equipment_changed")
        accounts_changed.connect(_inputs_changed, dispatch_uid="enrollment.accounts_changed")
        for signal in (post_save, post_delete):
            signal.connect(
                _approved_list_changed,
                sender=ApprovedEquipment,
                dispatch_uid=f"enrollment.approved_equipment.{signal is post_save}",
            )


def _customer_timeline(sender, *, account, limit: int, **kwargs):
    from enrollment.selectors import customer_timeline

    return customer_timeline(account=account, limit=limit)


def _inputs_changed(sender, *, utility_id: int, service_account_ids, **kwargs) -> None:
    from enrollment.services.reevaluation import inputs_changed

    inputs_changed(utility_id=utility_id, service_account_ids=service_account_ids)


def _approved_list_changed(sender, *, instance, **kwargs) -> None:
    """The utility's approved vehicle × charger list changed: every open enrollment there
    may pass or fail the equipment rule now."""
    from enrollment.services.reevaluation import inputs_changed

    inputs_changed(utility_id=instance.utility_id, service_account_ids=None)
