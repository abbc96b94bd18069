"""The interconnection models' content types follow them from "enrollment" to
"interconnection", so permissions and admin log entries that point at them keep pointing at
the same models."""

from django.db import migrations

MODELS = [
    "applicationdocument",
    "applicationmessage",
    "applicationnotification",
    "applicationtransition",
    "deficiency",
    "deficiencyitem",
    "interconnectionapplication",
    "interconnectionpolicy",
    "slaclock",
    "transformer",
]


def _relabel(apps, schema_editor, *, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    rows = ContentType.objects.using(schema_editor.connection.alias)
    for model in MODELS:
        # Where the new label exists already (made by a post_migrate), it stays the one used.
        if not rows.filter(app_label=new, model=model).exists():
            rows.filter(app_label=old, model=model).update(app_label=new)
    ContentType.objects.clear_cache()


def forwards(apps, schema_editor):
    _relabel(apps, schema_editor, old="enrollment", new="interconnection")


def backwards(apps, schema_editor):
    _relabel(apps, schema_editor, old="interconnection", new="enrollment")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("interconnection", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
