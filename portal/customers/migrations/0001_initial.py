"""ServiceAccount and CustomerImport move here from the enrollment app. Their tables keep
their names (``enrollment_serviceaccount``, ``enrollment_customerimport``), so this creates
them in the migration state only; enrollment's 0009 removes them from its own state."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED_MODELS = ("serviceaccount", "customerimport")


def _relabel(apps, old_label: str, new_label: str) -> None:
    """Content types (and so admin log entries and permissions) follow the models, unless
    the new label already has its own."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED_MODELS:
        if not ContentType.objects.filter(app_label=new_label, model=model).exists():
            ContentType.objects.filter(app_label=old_label, model=model).update(app_label=new_label)


def move_content_types(apps, schema_editor):
    _relabel(apps, "enrollment", "customers")


def move_content_types_back(apps, schema_editor):
    _relabel(apps, "customers", "enrollment")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("portal", "0004_partner_client_allowed_scopes"),
        ("contenttypes", "0002_remove_content_type_name"),
        # The tables were created (and last changed) by the enrollment app's migrations.
        ("enrollment", "0008_serviceaccount_feeder"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="CustomerImport",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        default="upload", help_text="upload or command", max_length=20
                    ),
                ),
                ("filename", models.CharField(max_length=255)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("imported", models.PositiveIntegerField(default=0)),
                ("updated", models.PositiveIntegerField(default=0)),
                ("unchanged", models.PositiveIntegerField(default=0)),
                ("rejected", models.PositiveIntegerField(default=0)),
                ("unknown_columns", models.JSONField(blank=True, default=list)),
                ("report", models.JSONField(blank=True, default=list)),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "utility",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="portal.utility",
                    ),
                ),
            ],
            options={
                "db_table": "enrollment_customerimport",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ServiceAccount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("account_number", models.CharField(max_length=32)),
                ("customer_name", models.CharField(max_length=200)),
                ("email", models.EmailField(blank=True, max_length=254)),
                ("phone", models.CharField(blank=True, max_length=40)),
                ("premise_address", models.CharField(max_length=250)),
                ("city", models.CharField(max_length=100)),
                ("state", models.CharField(max_length=2)),
                (
                    "zip_code",
                    models.CharField(
                        max_length=5,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^\\d{5}$", "Enter a five-digit ZIP code."
                            )
                        ],
                    ),
                ),
                ("meter_id", models.CharField(blank=True, max_length=32)),
                (
                    "feeder",
                    models.CharField(
                        blank=True,
                        help_text="Distribution feeder serving the premise (GIS).",
                        max_length=40,
                    ),
                ),
                (
                    "rate_class",
                    models.CharField(
                        choices=[
                            ("residential", "Residential"),
                            ("residential_tou", "Residential time-of-use"),
                            ("residential_ev", "Residential EV rate"),
                            ("small_commercial", "Small commercial"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "tariff",
                    models.CharField(
                        blank=True, help_text="Tariff name, e.g. EV2-A", max_length=100
                    ),
                ),
                ("smart_meter", models.BooleanField(default=True)),
                (
                    "income_qualified",
                    models.BooleanField(
                        default=False, help_text="Verified for the income-qualified incentive tier."
                    ),
                ),
                (
                    "medical_need",
                    models.BooleanField(
                        default=False, help_text="Medical baseline / life-support customer."
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "utility",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="portal.utility",
                    ),
                ),
            ],
            options={
                "db_table": "enrollment_serviceaccount",
                "ordering": ["account_number"],
                "indexes": [
                    models.Index(fields=["utility", "zip_code"], name="account_utility_zip"),
                    models.Index(fields=["utility", "customer_name"], name="account_utility_name"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("utility", "account_number"), name="unique_account_number"
                    )
                ],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
