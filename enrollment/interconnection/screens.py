"""Automated fast-track screens. Each screen passes or fails with the reason; all passing
means fast-track approval, any failing means engineering review.

``run_screens`` gathers what the screens need in a few queries; the screens themselves are
plain functions of that data, so the checklist, the review and the tests share them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from devices.models import ApprovedEquipment, Charger, Vehicle
from enrollment.interconnection.models import (
    InterconnectionApplication,
    InterconnectionPolicy,
    Transformer,
)

Application = InterconnectionApplication
Config = Application.Configuration

# NEC 705.12(B)(3)(2): breakers feeding the busbar may total 120% of its rating.
BUSBAR_FACTOR = 1.2


@dataclass(frozen=True)
class ScreenResult:
    screen: str
    passed: bool
    detail: str

    def as_dict(self) -> dict:
        return {"screen": self.screen, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class ScreenInput:
    configuration: str
    vehicle: Vehicle | None
    charger: Charger | None
    transfer_switch_model: str
    requested_export_kw: float | None
    panel_rating_amps: int | None
    busbar_rating_amps: int | None
    main_breaker_amps: int | None
    backfeed_breaker_amps: int | None
    pair_allows_mode: bool
    fast_track_max_export_kw: float
    transformer: Transformer | None
    other_export_on_transformer_kw: float


SCREEN_LABELS = {
    "equipment_certified": "Equipment certified",
    "approved_list": "On the approved equipment list",
    "export_limit": "Export within the fast-track limit",
    "busbar_120": "Busbar 120% rule",
    "panel_rating": "Panel rating",
    "transformer_aggregate": "Aggregate export on the transformer",
    "transfer_switch": "Transfer switch isolates the house",
}


def screen_equipment_certified(data: ScreenInput) -> ScreenResult:
    charger = data.charger
    if charger is None:
        return ScreenResult("equipment_certified", False, "No charger selected.")
    if data.configuration == Config.BACKUP_V2H:
        ok = charger.cert_ul9741 or charger.backup_capable
        detail = "UL 9741 / backup-capable EVSE" if ok else "The EVSE is not backup-capable."
        return ScreenResult("equipment_certified", ok, detail)
    missing = []
    if not charger.cert_ul9741:
        missing.append("UL 9741 (bidirectional EVSE)")
    inverter_certified = charger.cert_ul1741_sb or (
        charger.current_type == Charger.CurrentType.AC and charger.cert_sae_j3072
    )
    if not inverter_certified:
        missing.append("UL 1741-SB (or SAE J3072 for an on-board inverter)")
    if missing:
        return ScreenResult("equipment_certified", False, "Missing " + ", ".join(missing) + ".")
    return ScreenResult(
        "equipment_certified", True, "Certified: " + ", ".join(charger.certifications) + "."
    )


def screen_approved_list(data: ScreenInput) -> ScreenResult:
    if data.vehicle is None or data.charger is None:
        return ScreenResult("approved_list", False, "Vehicle and charger are both needed.")
    pair = f"{data.vehicle.model} × {data.charger.maker} {data.charger.model}"
    if data.pair_allows_mode:
        return ScreenResult("approved_list", True, f"{pair} is approved for this use.")
    return ScreenResult("approved_list", False, f"{pair} is not approved for this use.")


def screen_export_limit(data: ScreenInput) -> ScreenResult:
    export = data.requested_export_kw
    if export is None:
        return ScreenResult("export_limit", False, "No requested export given.")
    limits = [("fast-track limit", data.fast_track_max_export_kw)]
    if data.charger is not None:
        limits.append(("EVSE discharge rating", data.charger.max_discharge_kw))
    if data.vehicle is not None:
        limits.append(("vehicle discharge rating", data.vehicle.max_discharge_kw))
    name, limit = min(limits, key=lambda item: item[1])
    if export <= limit:
        return ScreenResult("export_limit", True, f"{export:g} kW ≤ {name} {limit:g} kW.")
    return ScreenResult("export_limit", False, f"{export:g} kW exceeds the {name} {limit:g} kW.")


def screen_busbar_120(data: ScreenInput) -> ScreenResult:
    busbar, main, backfeed = (
        data.busbar_rating_amps,
        data.main_breaker_amps,
        data.backfeed_breaker_amps,
    )
    if not (busbar and main and backfeed):
        return ScreenResult("busbar_120", False, "Busbar, main and backfeed breaker needed.")
    allowed = busbar * BUSBAR_FACTOR
    total = main + backfeed
    ok = total <= allowed
    verb = "≤" if ok else "exceeds"
    return ScreenResult(
        "busbar_120", ok, f"{main} A main + {backfeed} A backfeed = {total} A {verb} {allowed:g} A."
    )


def screen_panel_rating(data: ScreenInput) -> ScreenResult:
    panel, main = data.panel_rating_amps, data.main_breaker_amps
    if not (panel and main):
        return ScreenResult("panel_rating", False, "Panel rating and main breaker needed.")
    if main > panel:
        return ScreenResult(
            "panel_rating", False, f"Main breaker {main} A is larger than the panel's {panel} A."
        )
    return ScreenResult("panel_rating", True, f"Main breaker {main} A within panel {panel} A.")


def screen_transformer_aggregate(data: ScreenInput) -> ScreenResult:
    if data.transformer is None:
        return ScreenResult("transformer_aggregate", False, "Transformer not identified.")
    export = data.requested_export_kw or 0
    total = data.other_export_on_transformer_kw + export
    limit = data.transformer.export_threshold_kw
    ok = total <= limit
    return ScreenResult(
        "transformer_aggregate",
        ok,
        f"{total:g} kW behind {data.transformer.code} "
        f"({'within' if ok else 'over'} its {limit:g} kW threshold).",
    )


def screen_transfer_switch(data: ScreenInput) -> ScreenResult:
    if data.transfer_switch_model.strip():
        return ScreenResult("transfer_switch", True, data.transfer_switch_model.strip())
    return ScreenResult("transfer_switch", False, "No transfer switch / MID given.")


FULL_SCREENS = (
    screen_equipment_certified,
    screen_approved_list,
    screen_export_limit,
    screen_busbar_120,
    screen_panel_rating,
    screen_transformer_aggregate,
)
# Backup-only V2H never exports to the grid: the house is isolated while it runs.
SIMPLIFIED_SCREENS = (screen_equipment_certified, screen_approved_list, screen_transfer_switch)


def screens_for(configuration: str):
    if configuration == Config.BACKUP_V2H:
        return SIMPLIFIED_SCREENS
    if configuration in (Config.GRID_PARALLEL_V2H, Config.V2G):
        return FULL_SCREENS
    return ()


def evaluate(data: ScreenInput) -> list[ScreenResult]:
    return [screen(data) for screen in screens_for(data.configuration)]


# Applications whose export counts against a transformer: approved, or on their way.
COUNTED_FOR_TRANSFORMER = [
    Application.Status.SUBMITTED,
    Application.Status.COMPLETENESS_REVIEW,
    Application.Status.NEEDS_INFO,
    Application.Status.TECHNICAL_REVIEW,
    Application.Status.APPROVED_TO_INSTALL,
    Application.Status.INSTALLED,
    Application.Status.PTO_GRANTED,
]


def screen_input(application: InterconnectionApplication) -> ScreenInput:
    """What the screens need for one application (call inside its utility's scope)."""
    mode = "v2g" if application.configuration == Config.V2G else "v2h"
    vehicle, charger = application.vehicle, application.charger
    pair_allows_mode = bool(
        vehicle
        and charger
        and ApprovedEquipment.objects.filter(
            partner_id=vehicle.partner_id,
            vehicle_model=vehicle.model,
            charger_maker=charger.maker,
            charger_model=charger.model,
            **{f"allows_{mode}": True},
        ).exists()
    )
    policy = InterconnectionPolicy.objects.filter(utility_id=application.utility_id).first()
    other_export = 0.0
    if application.transformer_id:
        other_export = (
            Application.objects.filter(
                transformer_id=application.transformer_id,
                status__in=COUNTED_FOR_TRANSFORMER,
                configuration__in=[Config.GRID_PARALLEL_V2H, Config.V2G],
            )
            .exclude(pk=application.pk)
            .aggregate(total=Sum("requested_export_kw"))["total"]
            or 0.0
        )
    return ScreenInput(
        configuration=application.configuration,
        vehicle=vehicle,
        charger=charger,
        transfer_switch_model=application.transfer_switch_model,
        requested_export_kw=application.requested_export_kw,
        panel_rating_amps=application.panel_rating_amps,
        busbar_rating_amps=application.busbar_rating_amps,
        main_breaker_amps=application.main_breaker_amps,
        backfeed_breaker_amps=application.backfeed_breaker_amps,
        pair_allows_mode=pair_allows_mode,
        fast_track_max_export_kw=(
            policy.fast_track_max_export_kw
            if policy
            else InterconnectionPolicy._meta.get_field("fast_track_max_export_kw").default
        ),
        transformer=application.transformer,
        other_export_on_transformer_kw=float(other_export),
    )


def run_screens(application: InterconnectionApplication) -> list[ScreenResult]:
    return evaluate(screen_input(application))
