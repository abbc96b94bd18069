"""The incentive models, moved from the enrollment app (enrollment.0011_move_incentives_out).
The tables exist already (enrollment.0004_incentives made them, with the ledger's
append-only triggers) and keep their names: this migration adds the models to the state
only and touches no table."""

import django.db.models.deletion
import django.utils.timezone
import enrollment.incentives.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("customers", "0001_initial"),
        ("enrollment", "0011_move_incentives_out"),
        ("portal", "0004_partner_client_allowed_scopes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IncentiveDocument",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[("invoice", "Invoice"), ("evidence", "Dispute evidence")],
                                max_length=10,
                            ),
                        ),
                        (
                            "file",
                            models.FileField(
                                max_length=200,
                                upload_to=enrollment.incentives.models._document_path,
                            ),
                        ),
                        ("original_name", models.CharField(max_length=200)),
                        ("content_type", models.CharField(max_length=40)),
                        ("size_bytes", models.PositiveIntegerField()),
                        ("sha256", models.CharField(max_length=64)),
                        ("uploaded_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "uploaded_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
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
                        "db_table": "enrollment_incentivedocument",
                        "ordering": ["-uploaded_at"],
                    },
                ),
                migrations.CreateModel(
                    name="IncentiveOffer",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("charger_rebate", "Charger rebate"),
                                    ("enrollment_bonus", "Enrollment bonus"),
                                    ("monthly_credit", "Monthly participation credit"),
                                    ("event_performance", "Event performance ($/kWh)"),
                                    ("capacity_payment", "Seasonal capacity payment ($/kW)"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("name", models.CharField(max_length=120)),
                        (
                            "reason_code",
                            models.CharField(
                                help_text="Code on the bill-credit file, as the customer system knows it.",
                                max_length=20,
                            ),
                        ),
                        (
                            "payout_channel",
                            models.CharField(
                                choices=[
                                    ("bill_credit", "Bill credit"),
                                    (
                                        "off_bill",
                                        "Off-bill (check, ACH or e-gift card, as the customer chose)",
                                    ),
                                ],
                                default="bill_credit",
                                max_length=12,
                            ),
                        ),
                        (
                            "amount",
                            models.DecimalField(
                                blank=True,
                                decimal_places=2,
                                help_text="Rebate (standard tier), bonus, or credit per month, in dollars.",
                                max_digits=12,
                                null=True,
                            ),
                        ),
                        (
                            "income_qualified_amount",
                            models.DecimalField(
                                blank=True,
                                decimal_places=2,
                                help_text="Rebate for income-qualified customers.",
                                max_digits=12,
                                null=True,
                            ),
                        ),
                        (
                            "rate_per_kwh",
                            models.DecimalField(
                                blank=True,
                                decimal_places=4,
                                help_text="Dollars per kWh.",
                                max_digits=8,
                                null=True,
                            ),
                        ),
                        (
                            "rate_per_kw",
                            models.DecimalField(
                                blank=True,
                                decimal_places=2,
                                help_text="Dollars per kW-season.",
                                max_digits=10,
                                null=True,
                            ),
                        ),
                        (
                            "season_cap",
                            models.DecimalField(
                                blank=True,
                                decimal_places=2,
                                help_text="Most one customer can earn from this offer in one season; empty: no cap.",
                                max_digits=12,
                                null=True,
                            ),
                        ),
                        (
                            "forfeit_after_opt_outs",
                            models.PositiveSmallIntegerField(
                                blank=True,
                                help_text="The month's credit is forfeited once the customer opts out this many times in that month; empty: never forfeited.",
                                null=True,
                            ),
                        ),
                        (
                            "requires_review",
                            models.BooleanField(
                                default=True,
                                help_text="Staff approve each amount. Off: approved automatically while the budget allows (event-based payments).",
                            ),
                        ),
                        ("active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "program",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="incentive_offers",
                                to="enrollment.program",
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
                        "db_table": "enrollment_incentiveoffer",
                        "ordering": ["program__name", "name"],
                    },
                ),
                migrations.CreateModel(
                    name="Incentive",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("period_key", models.CharField(max_length=80)),
                        ("season", models.CharField(blank=True, max_length=40)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("submitted", "Awaiting approval"),
                                    ("waitlisted", "Waitlisted (budget)"),
                                    ("approved", "Approved"),
                                    ("rejected", "Rejected"),
                                ],
                                default="submitted",
                                max_length=12,
                            ),
                        ),
                        ("amount", models.DecimalField(decimal_places=2, max_digits=12)),
                        ("calculation", models.JSONField(blank=True, default=list)),
                        ("income_qualified", models.BooleanField(default=False)),
                        (
                            "invoice_total",
                            models.DecimalField(
                                blank=True, decimal_places=2, max_digits=12, null=True
                            ),
                        ),
                        ("opt_out_count", models.PositiveSmallIntegerField(blank=True, null=True)),
                        (
                            "measured_kwh",
                            models.DecimalField(
                                blank=True, decimal_places=3, max_digits=12, null=True
                            ),
                        ),
                        (
                            "measured_kw",
                            models.DecimalField(
                                blank=True, decimal_places=3, max_digits=10, null=True
                            ),
                        ),
                        ("submitted_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("waitlisted_at", models.DateTimeField(blank=True, null=True)),
                        ("decided_at", models.DateTimeField(blank=True, null=True)),
                        ("decision_reason", models.TextField(blank=True)),
                        (
                            "decided_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "enrollment",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="incentives",
                                to="enrollment.enrollment",
                            ),
                        ),
                        (
                            "program",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="incentives",
                                to="enrollment.program",
                            ),
                        ),
                        (
                            "service_account",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="incentives",
                                to="customers.serviceaccount",
                            ),
                        ),
                        (
                            "submitted_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
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
                        (
                            "invoice",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="incentives.incentivedocument",
                            ),
                        ),
                        (
                            "offer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="incentives",
                                to="incentives.incentiveoffer",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "enrollment_incentive",
                        "ordering": ["-submitted_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="PayoutBatch",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "channel",
                            models.CharField(
                                choices=[
                                    ("bill_credit", "Bill credit"),
                                    (
                                        "off_bill",
                                        "Off-bill (check, ACH or e-gift card, as the customer chose)",
                                    ),
                                ],
                                max_length=12,
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("ready", "Ready to export"),
                                    ("exported", "Exported"),
                                    ("paid", "Paid"),
                                ],
                                default="ready",
                                max_length=10,
                            ),
                        ),
                        ("total_amount", models.DecimalField(decimal_places=2, max_digits=14)),
                        ("item_count", models.PositiveIntegerField()),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("exported_at", models.DateTimeField(blank=True, null=True)),
                        ("paid_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "exported_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "paid_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "program",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="payout_batches",
                                to="enrollment.program",
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
                        "verbose_name_plural": "payout batches",
                        "db_table": "enrollment_payoutbatch",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="LedgerEntry",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("reserve", "Reserved"),
                                    ("reversal", "Reversal"),
                                    ("payout", "Paid"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("amount", models.DecimalField(decimal_places=2, max_digits=12)),
                        ("memo", models.CharField(blank=True, max_length=250)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("actor_label", models.CharField(max_length=254)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "incentive",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="ledger_entries",
                                to="incentives.incentive",
                            ),
                        ),
                        (
                            "program",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="ledger_entries",
                                to="enrollment.program",
                            ),
                        ),
                        (
                            "reverses",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="reversed_by",
                                to="incentives.ledgerentry",
                            ),
                        ),
                        (
                            "settles",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="settled_by",
                                to="incentives.ledgerentry",
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
                        (
                            "payout_batch",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="payouts",
                                to="incentives.payoutbatch",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "ledger entries",
                        "db_table": "enrollment_ledgerentry",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="PayoutItem",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("amount", models.DecimalField(decimal_places=2, max_digits=12)),
                        (
                            "method",
                            models.CharField(
                                choices=[
                                    ("bill_credit", "Bill credit"),
                                    ("check", "Check"),
                                    ("ach", "ACH transfer"),
                                    ("egift", "E-gift card"),
                                ],
                                max_length=12,
                            ),
                        ),
                        ("account_number", models.CharField(max_length=32)),
                        ("payee_name", models.CharField(max_length=200)),
                        ("reason_code", models.CharField(max_length=20)),
                        ("mailing_address", models.CharField(blank=True, max_length=250)),
                        ("city", models.CharField(blank=True, max_length=100)),
                        ("state", models.CharField(blank=True, max_length=2)),
                        ("zip_code", models.CharField(blank=True, max_length=5)),
                        ("ach_reference", models.CharField(blank=True, max_length=64)),
                        ("egift_email", models.EmailField(blank=True, max_length=254)),
                        (
                            "batch",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="items",
                                to="incentives.payoutbatch",
                            ),
                        ),
                        (
                            "entry",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="payout_item",
                                to="incentives.ledgerentry",
                            ),
                        ),
                        (
                            "incentive",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="incentives.incentive",
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
                        "db_table": "enrollment_payoutitem",
                        "ordering": ["batch", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="PayoutPreference",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "method",
                            models.CharField(
                                choices=[
                                    ("check", "Check"),
                                    ("ach", "ACH transfer"),
                                    ("egift", "E-gift card"),
                                ],
                                max_length=12,
                            ),
                        ),
                        (
                            "ach_reference",
                            models.CharField(
                                blank=True,
                                help_text="The payment processor's id for the customer's bank account (never the account number itself).",
                                max_length=64,
                            ),
                        ),
                        ("egift_email", models.EmailField(blank=True, max_length=254)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "service_account",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="payout_preference",
                                to="customers.serviceaccount",
                            ),
                        ),
                        (
                            "updated_by",
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
                        "db_table": "enrollment_payoutpreference",
                    },
                ),
                migrations.CreateModel(
                    name="Dispute",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("open", "Open"),
                                    ("upheld", "Upheld"),
                                    ("denied", "Denied"),
                                ],
                                default="open",
                                max_length=8,
                            ),
                        ),
                        (
                            "description",
                            models.TextField(help_text="What the customer says is wrong."),
                        ),
                        (
                            "claimed_amount",
                            models.DecimalField(
                                blank=True,
                                decimal_places=2,
                                help_text="What the customer believes is owed.",
                                max_digits=12,
                                null=True,
                            ),
                        ),
                        ("opened_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("resolved_at", models.DateTimeField(blank=True, null=True)),
                        ("resolution_note", models.TextField(blank=True)),
                        (
                            "corrected_amount",
                            models.DecimalField(
                                blank=True, decimal_places=2, max_digits=12, null=True
                            ),
                        ),
                        (
                            "opened_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "resolved_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
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
                        (
                            "incentive",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="disputes",
                                to="incentives.incentive",
                            ),
                        ),
                        (
                            "evidence",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="incentives.incentivedocument",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "enrollment_dispute",
                        "ordering": ["-opened_at", "-id"],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("status", "open")),
                                fields=("incentive",),
                                name="one_open_dispute_per_incentive",
                            )
                        ],
                    },
                ),
                migrations.AddConstraint(
                    model_name="incentiveoffer",
                    constraint=models.UniqueConstraint(
                        fields=("program", "name"), name="unique_offer_name"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="incentiveoffer",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("active", True)),
                        fields=("program", "kind"),
                        name="one_active_offer_per_program_and_kind",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="incentiveoffer",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("amount__isnull", False),
                                (
                                    "kind__in",
                                    ["charger_rebate", "enrollment_bonus", "monthly_credit"],
                                ),
                            ),
                            models.Q(
                                ("kind", "event_performance"), ("rate_per_kwh__isnull", False)
                            ),
                            models.Q(("kind", "capacity_payment"), ("rate_per_kw__isnull", False)),
                            _connector="OR",
                        ),
                        name="offer_has_its_rate",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="incentiveoffer",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("amount__isnull", True), ("amount__gte", 0), _connector="OR"),
                            models.Q(
                                ("income_qualified_amount__isnull", True),
                                ("income_qualified_amount__gte", 0),
                                _connector="OR",
                            ),
                            models.Q(
                                ("rate_per_kwh__isnull", True),
                                ("rate_per_kwh__gte", 0),
                                _connector="OR",
                            ),
                            models.Q(
                                ("rate_per_kw__isnull", True),
                                ("rate_per_kw__gte", 0),
                                _connector="OR",
                            ),
                            models.Q(
                                ("season_cap__isnull", True),
                                ("season_cap__gte", 0),
                                _connector="OR",
                            ),
                        ),
                        name="offer_amounts_not_negative",
                    ),
                ),
                migrations.AddIndex(
                    model_name="incentive",
                    index=models.Index(
                        fields=["utility", "status", "-submitted_at"], name="incentive_queue"
                    ),
                ),
                migrations.AddIndex(
                    model_name="incentive",
                    index=models.Index(
                        fields=["program", "status", "submitted_at"], name="incentive_waitlist"
                    ),
                ),
                migrations.AddIndex(
                    model_name="incentive",
                    index=models.Index(
                        fields=["offer", "service_account", "season"], name="incentive_season"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="incentive",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("status", "rejected"), _negated=True),
                        fields=("offer", "enrollment", "period_key"),
                        name="one_live_incentive_per_offer_enrollment_period",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="incentive",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("amount__gte", 0)), name="incentive_amount_not_negative"
                    ),
                ),
                migrations.AddIndex(
                    model_name="ledgerentry",
                    index=models.Index(fields=["program", "kind"], name="ledger_program_kind"),
                ),
                migrations.AddIndex(
                    model_name="ledgerentry",
                    index=models.Index(
                        fields=["utility", "-created_at"], name="ledger_utility_time"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="ledgerentry",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("amount__gt", 0),
                                ("kind", "reserve"),
                                ("payout_batch__isnull", True),
                                ("reverses__isnull", True),
                                ("settles__isnull", True),
                            ),
                            models.Q(
                                ("amount__lt", 0),
                                ("kind", "reversal"),
                                ("payout_batch__isnull", True),
                                ("reverses__isnull", False),
                                ("settles__isnull", True),
                            ),
                            models.Q(
                                ("amount__gt", 0),
                                ("kind", "payout"),
                                ("payout_batch__isnull", False),
                                ("reverses__isnull", True),
                                ("settles__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="ledger_entry_shape",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="payoutitem",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("amount__gt", 0)), name="payout_item_amount_positive"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="payoutpreference",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            ("method", "check"),
                            models.Q(
                                ("method", "ach"), models.Q(("ach_reference", ""), _negated=True)
                            ),
                            models.Q(
                                ("method", "egift"), models.Q(("egift_email", ""), _negated=True)
                            ),
                            _connector="OR",
                        ),
                        name="payout_preference_complete",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
