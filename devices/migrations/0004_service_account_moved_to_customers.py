"""ServiceAccount moved to the customers app (same table): the foreign keys now name it
there. State only; the database constraints already point at the right table."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("devices", "0003_command_queue_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="charger",
                    name="service_account",
                    field=models.ForeignKey(
                        blank=True,
                        help_text="The premise where the charger is installed.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="chargers",
                        to="customers.serviceaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="vehicle",
                    name="service_account",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="vehicles",
                        to="customers.serviceaccount",
                    ),
                ),
            ]
        )
    ]
