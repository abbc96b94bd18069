"""Events scheduled inside their notification lead time claimed customers had been notified
before the event existed; they were notified when it was scheduled (``Event.refresh_times``)."""

from django.db import migrations
from django.db.models import F


def notified_when_scheduled(apps, schema_editor):
    Event = apps.get_model("dispatch", "Event")
    Event.objects.filter(scheduled_at__isnull=False, notify_at__lt=F("scheduled_at")).update(
        notify_at=F("scheduled_at")
    )


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0005_grid_source_vtn_fingerprint")]

    operations = [migrations.RunPython(notified_when_scheduled, migrations.RunPython.noop)]
