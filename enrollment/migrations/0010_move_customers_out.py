"""ServiceAccount and CustomerImport now belong to the customers app (portal.customers),
in the same tables: the foreign keys name them there and they leave this app's state. State
only; the database does not change."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("devices", "0004_service_account_moved_to_customers"),
        ("enrollment", "0009_interconnection_notifications_inspection_date"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="interconnectionapplication",
                    name="service_account",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="interconnection_applications",
                        to="customers.serviceaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="payoutpreference",
                    name="service_account",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="payout_preference",
                        to="customers.serviceaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="incentive",
                    name="service_account",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="incentives",
                        to="customers.serviceaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="enrollment",
                    name="service_account",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enrollments",
                        to="customers.serviceaccount",
                    ),
                ),
                migrations.DeleteModel(
                    name="CustomerImport",
                ),
                migrations.DeleteModel(
                    name="ServiceAccount",
                ),
            ]
        )
    ]
