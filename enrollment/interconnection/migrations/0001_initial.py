"""The interconnection models, moved from the enrollment app
(enrollment.0012_move_interconnection_out). The tables exist already (enrollment.0006,
0007 and 0009 made them) and keep their names: this migration adds the models to the state
only and touches no table."""

import django.db.models.deletion
import django.utils.timezone
import enrollment.interconnection.models.documents
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("customers", "0001_initial"),
        ("devices", "0004_service_account_moved_to_customers"),
        ("enrollment", "0012_move_interconnection_out"),
        ("portal", "0004_partner_client_allowed_scopes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApplicationDocument",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("customer_authorization", "Customer authorization"),
                                    ("single_line_diagram", "Single-line diagram"),
                                    ("site_plan", "Site plan"),
                                    ("spec_sheet", "Equipment spec sheets"),
                                    (
                                        "certificate",
                                        "Equipment certificates (UL 9741 / UL 1741-SB)",
                                    ),
                                    ("transfer_switch_spec", "Transfer-switch spec"),
                                    ("load_calculation", "Load calculation and busbar check"),
                                    ("installer_license", "Installer licence"),
                                    ("ahj_permit", "AHJ permit"),
                                    ("signed_agreement", "Signed interconnection agreement"),
                                    ("other", "Other"),
                                ],
                                max_length=24,
                            ),
                        ),
                        ("version", models.PositiveSmallIntegerField()),
                        (
                            "file",
                            models.FileField(
                                max_length=200,
                                upload_to=enrollment.interconnection.models.documents._document_path,
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
                        "db_table": "enrollment_applicationdocument",
                        "ordering": ["kind", "-version"],
                    },
                ),
                migrations.CreateModel(
                    name="ApplicationMessage",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("author_label", models.CharField(max_length=254)),
                        (
                            "party",
                            models.CharField(
                                choices=[
                                    ("installer", "Installer"),
                                    ("utility", "Utility"),
                                    ("ahj", "AHJ"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("body", models.TextField(max_length=4000)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("notified_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "author",
                            models.ForeignKey(
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
                        "db_table": "enrollment_applicationmessage",
                        "ordering": ["created_at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="Deficiency",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "track",
                            models.CharField(
                                choices=[("utility", "Utility"), ("ahj", "AHJ")], max_length=8
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("answered_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "answered_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "raised_by",
                            models.ForeignKey(
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
                        "verbose_name_plural": "deficiencies",
                        "db_table": "enrollment_deficiency",
                        "ordering": ["created_at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="DeficiencyItem",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "topic",
                            models.CharField(
                                choices=[
                                    ("document", "A document"),
                                    ("equipment", "Equipment"),
                                    ("electrical", "Panel, busbar or breaker ratings"),
                                    ("export", "Export limit"),
                                    ("other", "Other"),
                                ],
                                max_length=12,
                            ),
                        ),
                        (
                            "document_kind",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("customer_authorization", "Customer authorization"),
                                    ("single_line_diagram", "Single-line diagram"),
                                    ("site_plan", "Site plan"),
                                    ("spec_sheet", "Equipment spec sheets"),
                                    (
                                        "certificate",
                                        "Equipment certificates (UL 9741 / UL 1741-SB)",
                                    ),
                                    ("transfer_switch_spec", "Transfer-switch spec"),
                                    ("load_calculation", "Load calculation and busbar check"),
                                    ("installer_license", "Installer licence"),
                                    ("ahj_permit", "AHJ permit"),
                                    ("signed_agreement", "Signed interconnection agreement"),
                                    ("other", "Other"),
                                ],
                                max_length=24,
                            ),
                        ),
                        ("comment", models.TextField()),
                        ("response", models.TextField(blank=True)),
                        (
                            "deficiency",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="items",
                                to="interconnection.deficiency",
                            ),
                        ),
                        (
                            "response_document",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="interconnection.applicationdocument",
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
                        "db_table": "enrollment_deficiencyitem",
                        "ordering": ["id"],
                    },
                ),
                migrations.CreateModel(
                    name="InterconnectionApplication",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("reference", models.CharField(blank=True, max_length=24)),
                        (
                            "configuration",
                            models.CharField(
                                choices=[
                                    ("charge_only", "Charge only (no export)"),
                                    ("backup_v2h", "Backup-only V2H (transfer switch, NEC 702)"),
                                    (
                                        "grid_parallel_v2h",
                                        "Grid-parallel V2H (IEEE 1547, UL 1741-SB)",
                                    ),
                                    ("v2g", "V2G export (IEEE 1547, UL 1741-SB, UL 9741)"),
                                ],
                                max_length=20,
                            ),
                        ),
                        (
                            "review_path",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("none", "No interconnection review"),
                                    ("simplified", "Simplified review"),
                                    ("full", "Full review"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("transfer_switch_model", models.CharField(blank=True, max_length=120)),
                        ("nameplate_kw", models.FloatField(blank=True, null=True)),
                        ("requested_export_kw", models.FloatField(blank=True, null=True)),
                        ("panel_rating_amps", models.PositiveIntegerField(blank=True, null=True)),
                        ("busbar_rating_amps", models.PositiveIntegerField(blank=True, null=True)),
                        ("main_breaker_amps", models.PositiveIntegerField(blank=True, null=True)),
                        (
                            "backfeed_breaker_amps",
                            models.PositiveIntegerField(
                                blank=True,
                                help_text="The EVSE's backfed breaker (120% busbar rule).",
                                null=True,
                            ),
                        ),
                        ("installer_license", models.CharField(blank=True, max_length=40)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("draft", "Draft"),
                                    ("submitted", "Submitted"),
                                    ("completeness_review", "Completeness review"),
                                    ("needs_info", "Needs information"),
                                    ("technical_review", "Engineering review"),
                                    ("approved_to_install", "Approved to install"),
                                    ("installed", "Installed, awaiting PTO"),
                                    ("pto_granted", "Permission to operate"),
                                    ("pto_revoked", "Permission to operate revoked"),
                                    ("no_review_needed", "No interconnection needed"),
                                    ("rejected", "Rejected"),
                                    ("withdrawn", "Withdrawn"),
                                ],
                                default="draft",
                                max_length=20,
                            ),
                        ),
                        (
                            "permit_status",
                            models.CharField(
                                choices=[
                                    ("not_submitted", "Not submitted"),
                                    ("permit_review", "Permit review"),
                                    ("corrections", "Corrections requested"),
                                    ("permit_issued", "Permit issued"),
                                    ("inspection_requested", "Inspection requested"),
                                    ("inspection_scheduled", "Inspection scheduled"),
                                    ("inspection_failed", "Inspection failed, corrections needed"),
                                    ("inspection_passed", "Final inspection passed"),
                                    ("withdrawn", "Withdrawn"),
                                ],
                                default="not_submitted",
                                max_length=20,
                            ),
                        ),
                        ("status_before_info", models.CharField(blank=True, max_length=20)),
                        (
                            "witness_test",
                            models.CharField(
                                choices=[
                                    ("undecided", "Not decided"),
                                    ("scheduled", "Scheduled"),
                                    ("waived", "Waived"),
                                    ("passed", "Passed"),
                                ],
                                default="undecided",
                                max_length=10,
                            ),
                        ),
                        ("witness_test_on", models.DateField(blank=True, null=True)),
                        ("screen_results", models.JSONField(blank=True, default=list)),
                        ("screened_at", models.DateTimeField(blank=True, null=True)),
                        ("fast_tracked", models.BooleanField(default=False)),
                        (
                            "deficiency_rounds",
                            models.PositiveSmallIntegerField(
                                default=0,
                                help_text="Times the utility sent it back (0 = accepted first pass).",
                            ),
                        ),
                        ("permit_number", models.CharField(blank=True, max_length=40)),
                        ("inspection_on", models.DateField(blank=True, null=True)),
                        ("inspected_on", models.DateField(blank=True, null=True)),
                        ("approved_export_kw", models.FloatField(blank=True, null=True)),
                        ("decision_note", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("submitted_at", models.DateTimeField(blank=True, null=True)),
                        ("permit_issued_at", models.DateTimeField(blank=True, null=True)),
                        ("inspection_passed_at", models.DateTimeField(blank=True, null=True)),
                        ("pto_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "business_days_to_pto",
                            models.PositiveIntegerField(blank=True, null=True),
                        ),
                        ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "ahj",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="interconnection_applications",
                                to="portal.ahj",
                                verbose_name="AHJ",
                            ),
                        ),
                        (
                            "assigned_engineer",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "charger",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="devices.charger",
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "installer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="interconnection_applications",
                                to="portal.installercompany",
                            ),
                        ),
                        (
                            "pto_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "service_account",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="interconnection_applications",
                                to="customers.serviceaccount",
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
                            "vehicle",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="devices.vehicle",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "enrollment_interconnectionapplication",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.AddField(
                    model_name="deficiency",
                    name="application",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deficiencies",
                        to="interconnection.interconnectionapplication",
                    ),
                ),
                migrations.CreateModel(
                    name="ApplicationTransition",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "track",
                            models.CharField(
                                choices=[("utility", "Utility"), ("ahj", "AHJ")], max_length=8
                            ),
                        ),
                        ("action", models.CharField(max_length=40)),
                        ("from_state", models.CharField(blank=True, max_length=24)),
                        ("to_state", models.CharField(max_length=24)),
                        ("actor_label", models.CharField(max_length=254)),
                        ("comment", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("notified_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "actor",
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
                        (
                            "application",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="transitions",
                                to="interconnection.interconnectionapplication",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "enrollment_applicationtransition",
                        "ordering": ["created_at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="ApplicationNotification",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "party",
                            models.CharField(
                                choices=[
                                    ("installer", "Installer"),
                                    ("utility", "Utility"),
                                    ("ahj", "AHJ"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("email", models.EmailField(max_length=254)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("sending_since", models.DateTimeField(blank=True, null=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "message",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to="interconnection.applicationmessage",
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
                            "transition",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to="interconnection.applicationtransition",
                            ),
                        ),
                        (
                            "application",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to="interconnection.interconnectionapplication",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "enrollment_applicationnotification",
                        "ordering": ["created_at", "id"],
                    },
                ),
                migrations.AddField(
                    model_name="applicationmessage",
                    name="application",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="interconnection.interconnectionapplication",
                    ),
                ),
                migrations.AddField(
                    model_name="applicationdocument",
                    name="application",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="documents",
                        to="interconnection.interconnectionapplication",
                    ),
                ),
                migrations.CreateModel(
                    name="InterconnectionPolicy",
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
                            "fast_track_max_export_kw",
                            models.FloatField(
                                default=11.5,
                                help_text="Largest export a fast-track (screens-only) approval may grant.",
                            ),
                        ),
                        (
                            "sla_business_days",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                help_text="Overrides per stage, e.g. {'completeness': 7}.",
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
                        "verbose_name_plural": "interconnection policies",
                        "db_table": "enrollment_interconnectionpolicy",
                    },
                ),
                migrations.CreateModel(
                    name="SlaClock",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "track",
                            models.CharField(
                                choices=[("utility", "Utility"), ("ahj", "AHJ")], max_length=8
                            ),
                        ),
                        (
                            "stage",
                            models.CharField(
                                choices=[
                                    ("acknowledgement", "Acknowledgement"),
                                    ("completeness", "Completeness review"),
                                    ("technical_review", "Engineering (supplemental) review"),
                                    ("pto", "Completion to PTO"),
                                    ("permit", "AHJ permit"),
                                    ("inspection", "AHJ inspection"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("started_on", models.DateField()),
                        ("target_business_days", models.PositiveSmallIntegerField()),
                        ("due_on", models.DateField()),
                        ("paused_since", models.DateField(blank=True, null=True)),
                        ("paused_business_days", models.PositiveIntegerField(default=0)),
                        ("stopped_on", models.DateField(blank=True, null=True)),
                        (
                            "elapsed_business_days",
                            models.PositiveIntegerField(blank=True, null=True),
                        ),
                        ("breached", models.BooleanField(blank=True, null=True)),
                        (
                            "application",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="clocks",
                                to="interconnection.interconnectionapplication",
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
                        "db_table": "enrollment_slaclock",
                        "ordering": ["started_on", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="Transformer",
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
                        ("code", models.CharField(max_length=40)),
                        ("feeder", models.CharField(blank=True, max_length=40)),
                        ("rating_kva", models.FloatField()),
                        (
                            "export_threshold_kw",
                            models.FloatField(
                                help_text="Aggregate export allowed behind this transformer without a study."
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
                        "db_table": "enrollment_transformer",
                        "ordering": ["code"],
                    },
                ),
                migrations.AddField(
                    model_name="interconnectionapplication",
                    name="transformer",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="interconnection.transformer",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="deficiency",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("answered_at__isnull", True)),
                        fields=("application", "track"),
                        name="one_open_deficiency_per_track",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="applicationnotification",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            ("transition__isnull", True),
                            ("message__isnull", True),
                            _connector="XOR",
                        ),
                        name="notification_of_transition_or_message",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="applicationnotification",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("transition__isnull", False)),
                        fields=("transition", "email"),
                        name="one_notification_per_transition_address",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="applicationnotification",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("message__isnull", False)),
                        fields=("message", "email"),
                        name="one_notification_per_message_address",
                    ),
                ),
                migrations.AddIndex(
                    model_name="applicationmessage",
                    index=models.Index(
                        fields=["application", "created_at"], name="ic_message_thread"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="applicationdocument",
                    constraint=models.UniqueConstraint(
                        fields=("application", "kind", "version"), name="unique_document_version"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="interconnectionpolicy",
                    constraint=models.UniqueConstraint(
                        fields=("utility",), name="one_interconnection_policy"
                    ),
                ),
                migrations.AddIndex(
                    model_name="slaclock",
                    index=models.Index(
                        fields=["utility", "stopped_on", "due_on"], name="ic_clock_due"
                    ),
                ),
                migrations.AddIndex(
                    model_name="slaclock",
                    index=models.Index(
                        fields=["utility", "stage", "elapsed_business_days"], name="ic_clock_stage"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="slaclock",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("stopped_on__isnull", True)),
                        fields=("application", "track"),
                        name="one_open_clock_per_track",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="transformer",
                    constraint=models.UniqueConstraint(
                        fields=("utility", "code"), name="unique_transformer_code"
                    ),
                ),
                migrations.AddIndex(
                    model_name="interconnectionapplication",
                    index=models.Index(
                        fields=["utility", "status", "-created_at"], name="ic_queue"
                    ),
                ),
                migrations.AddIndex(
                    model_name="interconnectionapplication",
                    index=models.Index(fields=["installer", "-created_at"], name="ic_installer"),
                ),
                migrations.AddIndex(
                    model_name="interconnectionapplication",
                    index=models.Index(
                        fields=["ahj", "permit_status", "-created_at"], name="ic_ahj"
                    ),
                ),
                migrations.AddIndex(
                    model_name="interconnectionapplication",
                    index=models.Index(
                        fields=["utility", "transformer", "status"], name="ic_transformer"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
