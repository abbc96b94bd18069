"""Interconnection reads: what each party may see, the pre-submission checklist, and what an
application's page shows. Lists select and prefetch what their rows show, so a page runs
the same number of queries whatever its length."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import (
    BooleanField,
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from enrollment.interconnection import screens
from enrollment.interconnection.models import (
    ApplicationDocument,
    ApplicationMessage,
    Deficiency,
    DeficiencyItem,
    InterconnectionApplication,
    SlaClock,
)
from portal.business_days import add_business_days, business_days_between, holiday_calendar
from portal.models import AHJ, AHJTerritory, InstallerApproval, InstallerCompany, Utility

Application = InterconnectionApplication
Config = Application.Configuration
Kind = ApplicationDocument.Kind

LIST_RELATED = ("utility", "installer", "ahj", "service_account", "assigned_engineer")


def _open_clocks() -> Prefetch:
    return Prefetch(
        "clocks",
        queryset=SlaClock.objects.filter(stopped_on__isnull=True).order_by("track"),
        to_attr="open_clocks",
    )


def list_queryset(queryset: QuerySet) -> QuerySet:
    return queryset.select_related(*LIST_RELATED).prefetch_related(_open_clocks())


# --- Who sees what (call the org ones inside scopes_disabled(): they filter explicitly) -----


def installer_applications(company: InstallerCompany) -> QuerySet:
    """The company's applications in the utilities it is (still) approved in."""
    approved = InstallerApproval.objects.filter(installer=company, active=True).values("utility_id")
    return Application.objects.filter(installer=company, utility_id__in=approved)


def ahj_applications(ahj: AHJ) -> QuerySet:
    """Applications assigned to this AHJ, in the utilities whose territory it overlaps.
    Drafts are the installer's own until submitted."""
    utilities = AHJTerritory.objects.filter(ahj=ahj).values("utility_id")
    return Application.objects.filter(ahj=ahj, utility_id__in=utilities).exclude(
        status=Application.Status.DRAFT
    )


def jurisdiction_ahjs(*, utility_id: int, zip_code: str) -> list[AHJ]:
    """The AHJs overlapping the utility whose jurisdiction lists the premise's ZIP code."""
    return list(
        AHJ.objects.filter(territories__utility_id=utility_id, zip_codes__contains=[zip_code])
    )


def ahj_mismatch(app: Application) -> str:
    """Why the application's AHJ does not hold the premise, for the engineer (empty when it
    does, or when the AHJ lists no ZIP codes to tell by). Needs ``ahj`` and
    ``service_account`` loaded (the lists select them)."""
    if app.ahj is None or not app.ahj.zip_codes:
        return ""
    account = app.service_account
    if account.zip_code in app.ahj.zip_codes:
        return ""
    return (
        f"The premise ({account.city}, ZIP {account.zip_code}) is outside "
        f"{app.ahj.name}'s jurisdiction."
    )


def utility_queue(*, utility, status: str = "", assigned_to=None, sla_state: str = "") -> QuerySet:
    """The utility's submitted applications (inside its scope), oldest first."""
    qs = Application.objects.exclude(status=Application.Status.DRAFT)
    if status:
        qs = qs.filter(status=status)
    else:
        qs = qs.filter(status__in=Application.OPEN_STATES)
    if assigned_to is not None:
        qs = qs.filter(assigned_engineer=assigned_to)
    if sla_state:
        qs = qs.filter(pk__in=_clocks_in_state(utility, sla_state).values("application_id"))
    return qs.order_by("submitted_at", "id")


def _clocks_in_state(utility, sla_state: str) -> QuerySet:
    """Running clocks that are past due ("breached") or due within the warning window
    ("due_soon", which includes the breached: both need someone now)."""
    today = timezone.localdate(timezone.now(), utility.tzinfo)
    running = SlaClock.objects.filter(stopped_on__isnull=True, paused_since__isnull=True)
    if sla_state == "breached":
        return running.filter(due_on__lt=today)
    return running.filter(due_on__lte=warning_horizon(utility, today))


# --- Pre-submission checklist -----------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    ok: bool
    detail: str = ""
    blocking: bool = True


REQUIRED_DOCUMENTS = {
    Config.CHARGE_ONLY: [Kind.CUSTOMER_AUTHORIZATION, Kind.SITE_PLAN, Kind.LOAD_CALCULATION],
    Config.BACKUP_V2H: [
        Kind.CUSTOMER_AUTHORIZATION, Kind.SINGLE_LINE_DIAGRAM, Kind.SITE_PLAN,
        Kind.SPEC_SHEET, Kind.TRANSFER_SWITCH_SPEC, Kind.LOAD_CALCULATION,
    ],
    Config.GRID_PARALLEL_V2H: [
        Kind.CUSTOMER_AUTHORIZATION, Kind.SINGLE_LINE_DIAGRAM, Kind.SITE_PLAN,
        Kind.SPEC_SHEET, Kind.CERTIFICATE, Kind.LOAD_CALCULATION,
    ],
    Config.V2G: [
        Kind.CUSTOMER_AUTHORIZATION, Kind.SINGLE_LINE_DIAGRAM, Kind.SITE_PLAN,
        Kind.SPEC_SHEET, Kind.CERTIFICATE, Kind.LOAD_CALCULATION,
    ],
}  # fmt: skip


def checklist(app: Application) -> list[ChecklistItem]:
    """What is missing (blocking submission) and what fails a screen (a warning: it routes
    the application to engineering review instead of the fast track)."""
    items: list[ChecklistItem] = []
    interconnects = app.needs_interconnection

    def need(key: str, label: str, ok: bool, detail: str = "") -> None:
        items.append(ChecklistItem(key, label, bool(ok), detail))

    need("ahj", "AHJ (permit authority) selected", app.ahj_id)
    need("charger", "Charger selected", app.charger_id)
    if app.charger_id:
        need(
            "charger_at_premise",
            "Charger registered at this customer's premise",
            app.charger.service_account_id == app.service_account_id,
        )
    if interconnects:
        need("vehicle", "Vehicle selected", app.vehicle_id)
        if app.vehicle_id:
            need(
                "vehicle_at_premise",
                "Vehicle registered at this customer's account",
                app.vehicle.service_account_id == app.service_account_id,
            )
        need("nameplate", "Nameplate kW given", app.nameplate_kw)
        need("export", "Requested export kW given", app.requested_export_kw is not None)
        if app.requested_export_kw is not None and app.nameplate_kw:
            need(
                "export_within_nameplate",
                "Requested export within the nameplate rating",
                app.requested_export_kw <= app.nameplate_kw,
                f"{app.requested_export_kw:g} kW requested, {app.nameplate_kw:g} kW nameplate",
            )
        need("busbar", "Busbar rating given", app.busbar_rating_amps)
        need("backfeed", "Backfeed breaker given", app.backfeed_breaker_amps)
    if app.configuration == Config.BACKUP_V2H:
        need("transfer_switch", "Transfer switch / MID model given", app.transfer_switch_model)
    need("panel", "Service panel rating given", app.panel_rating_amps)
    need("main_breaker", "Main breaker given", app.main_breaker_amps)
    need("license", "Installer licence number given", app.installer_license.strip())
    present = set(
        ApplicationDocument.objects.filter(application=app).values_list("kind", flat=True)
    )
    for kind in REQUIRED_DOCUMENTS.get(app.configuration, []):
        need(f"document:{kind}", f"Document: {Kind(kind).label}", kind in present)
    if interconnects and app.charger_id and (app.vehicle_id or not interconnects):
        for result in screens.run_screens(app):
            items.append(
                ChecklistItem(
                    f"screen:{result.screen}",
                    f"Screen: {screens.SCREEN_LABELS[result.screen]}",
                    result.passed,
                    result.detail,
                    blocking=False,
                )
            )
    return items


# Breaches are flagged this many business days ahead.
WARNING_BUSINESS_DAYS = 2


def warning_horizon(utility: Utility, today: date) -> date:
    """The last due date a running clock counts as "due soon" on ``today``."""
    return add_business_days(today, WARNING_BUSINESS_DAYS, holiday_calendar(utility))


def clock_state(clock, *, today: date, calendar) -> tuple[str, int]:
    """("paused" | "breached" | "due_soon" | "on_track" | "stopped", business days left)."""
    if clock.stopped_on is not None:
        return ("breached" if clock.breached else "stopped"), 0
    if clock.paused_since is not None:
        return "paused", 0
    if today > clock.due_on:
        return "breached", -business_days_between(clock.due_on, today, calendar)
    left = business_days_between(today, clock.due_on, calendar)
    return ("due_soon" if left <= WARNING_BUSINESS_DAYS else "on_track"), left


# --- One application's page -------------------------------------------------------------------


@dataclass(frozen=True)
class ClockRow:
    clock: SlaClock
    state: str
    business_days_left: int

    @property
    def label(self) -> str:
        return self.state.replace("_", " ")


def clock_rows(app: Application, clocks, *, today: date | None = None) -> list[ClockRow]:
    calendar = holiday_calendar(app.utility)
    today = today or timezone.localdate(timezone.now(), app.utility.tzinfo)
    rows = []
    for clock in clocks:
        state, left = clock_state(clock, today=today, calendar=calendar)
        rows.append(ClockRow(clock, state, left))
    return rows


def application_page(app: Application) -> dict:
    """Everything the shared application page shows, whichever party looks."""
    documents = list(
        ApplicationDocument.objects.filter(application=app).select_related("uploaded_by")
    )
    latest: dict[str, ApplicationDocument] = {}
    for doc in documents:  # ordered by kind, newest version first
        latest.setdefault(doc.kind, doc)
    deficiencies = list(
        Deficiency.objects.filter(application=app)
        .select_related("raised_by", "answered_by")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=DeficiencyItem.objects.select_related("response_document"),
            )
        )
    )
    clocks = list(SlaClock.objects.filter(application=app))
    return {
        "application": app,
        "documents": documents,
        "latest_documents": list(latest.values()),
        "deficiencies": deficiencies,
        "open_deficiency": next((d for d in deficiencies if d.answered_at is None), None),
        "transitions": list(app.transitions.select_related("actor")),
        "thread": list(
            ApplicationMessage.objects.filter(application=app).order_by("created_at", "id")
        ),
        "clock_rows": clock_rows(app, clocks),
        "screen_rows": [
            {**row, "label": screens.SCREEN_LABELS.get(row["screen"], row["screen"])}
            for row in app.screen_results
        ],
    }


def application_related() -> tuple[str, ...]:
    return (
        "utility", "installer", "ahj", "service_account", "vehicle", "charger", "transformer",
        "assigned_engineer", "pto_by", "created_by",
    )  # fmt: skip


# --- Messages -----------------------------------------------------------------------------------


def with_message_summary(queryset: QuerySet) -> QuerySet:
    """Annotate each application with ``message_count`` and ``has_new_message``: a message
    from the utility or the AHJ newer than the installer's last post (any, if it never
    posted). Subqueries, so the list's query count does not grow with its length."""
    thread = ApplicationMessage.objects.filter(application=OuterRef("pk"))
    installer = ApplicationMessage.Party.INSTALLER
    count = thread.order_by().values("application").annotate(n=Count("id")).values("n")
    last_installer = thread.filter(party=installer).order_by("-created_at").values("created_at")[:1]
    last_other = thread.exclude(party=installer).order_by("-created_at").values("created_at")[:1]
    return queryset.annotate(
        message_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
        last_installer_message_at=Subquery(last_installer),
        last_reply_at=Subquery(last_other),
    ).annotate(
        has_new_message=Case(
            When(
                Q(last_reply_at__isnull=False)
                & (
                    Q(last_installer_message_at__isnull=True)
                    | Q(last_reply_at__gt=F("last_installer_message_at"))
                ),
                then=Value(True),
            ),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
