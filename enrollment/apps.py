from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    verbose_name = "Enrollment"

    def ready(self) -> None:
        from portal.customers.signals import timeline_requested

        timeline_requested.connect(_customer_timeline, dispatch_uid="enrollment.customer_timeline")


def _customer_timeline(sender, *, account, limit: int, **kwargs):
    from enrollment.selectors import customer_timeline

    return customer_timeline(account=account, limit=limit)
