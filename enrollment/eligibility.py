"""Eligibility: one small pure function per rule, and a loader that fetches everything a
batch of candidates needs in a constant number of queries.

Each rule answers ``RuleResult(rule, passed, detail)``; ``detail`` says why, in words staff
and partners can act on. The evaluators never touch the database: ``load_context`` reads the
territory, the approved equipment, the chargers, the interconnection PTOs, the conflict sets
and the open enrollments that might conflict for the whole batch (six queries, whatever its
size), so re-evaluating
a program's enrollments after a rule change is a few queries per thousand enrollments.

Two rules never fail: the income-qualified tier only flags the enrollment, and a medical-need
customer in a program that excludes them from events (not from the program) is enrolled but
flagged ``excluded_from_events`` for dispatch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.apps import apps
from django.db.models import Q

from devices.models import ApprovedEquipment, Charger, Vehicle
from enrollment.models import Enrollment, Program
from portal.customers.models import ServiceAccount
from portal.models import Utility


class Rule:
    TERRITORY = "territory"
    RATE_CLASS = "rate_class"
    SMART_METER = "smart_meter"
    APPROVED_EQUIPMENT = "approved_equipment"
    VEHICLE_CAPABILITY = "vehicle_capability"
    PERMISSION_TO_OPERATE = "permission_to_operate"
    CONFLICTING_PROGRAMS = "conflicting_programs"
    MEDICAL_NEED = "medical_need"
    INCOME_QUALIFIED = "income_qualified"


RULE_LABELS: dict[str, str] = {
    Rule.TERRITORY: "Service territory",
    Rule.RATE_CLASS: "Rate class",
    Rule.SMART_METER: "Smart meter",
    Rule.APPROVED_EQUIPMENT: "Approved vehicle × charger",
    Rule.VEHICLE_CAPABILITY: "Vehicle capability",
    Rule.PERMISSION_TO_OPERATE: "Interconnection PTO",
    Rule.CONFLICTING_PROGRAMS: "Conflicting programs",
    Rule.MEDICAL_NEED: "Medical need",
    Rule.INCOME_QUALIFIED: "Income-qualified tier",
}
RULE_CHOICES = list(RULE_LABELS.items())


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class Evaluation:
    results: tuple[RuleResult, ...]
    income_qualified: bool = False
    excluded_from_events: bool = False

    @property
    def failed_rules(self) -> list[str]:
        return [r.rule for r in self.results if not r.passed]

    def as_list(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.results]

    def failure(self, rule: str) -> RuleResult | None:
        return next((r for r in self.results if r.rule == rule and not r.passed), None)


class OpenEnrollment(NamedTuple):
    id: int
    program_id: int
    vehicle_id: int
    service_account_id: int


@dataclass(frozen=True)
class Candidate:
    """What is checked: a vehicle at an account in a program. ``enrollment_id`` is None for
    a submission not yet saved (it is left out of its own conflict check)."""

    program: Program
    account: ServiceAccount
    vehicle: Vehicle
    enrollment_id: int | None = None


@dataclass
class EligibilityContext:
    territory_zip_codes: dict[int, frozenset[str]] = field(default_factory=dict)
    chargers: dict[int, Charger] = field(default_factory=dict)
    # (partner id, vehicle model, charger maker, charger model) → modes the pair may run
    approved_pairs: dict[tuple[int, str, str, str], frozenset[str]] = field(default_factory=dict)
    # program id → itself and the programs marked as conflicting with it
    conflict_sets: dict[int, frozenset[int]] = field(default_factory=dict)
    program_names: dict[int, str] = field(default_factory=dict)
    open_by_vehicle: dict[int, list[OpenEnrollment]] = field(default_factory=dict)
    open_by_account: dict[int, list[OpenEnrollment]] = field(default_factory=dict)
    # (service account id, charger id) → export approved with the interconnection's PTO
    permissions_to_operate: dict[tuple[int, int], float | None] = field(default_factory=dict)


# --- The rules ------------------------------------------------------------------------------


def check_territory(
    *, program: Program, account: ServiceAccount, territory_zip_codes: frozenset[str]
) -> RuleResult:
    """On the program's premise list when it has one; otherwise a ZIP in the program's list,
    or in the utility's territory when the program names none."""
    rule = Rule.TERRITORY
    premises = set(program.eligible_account_numbers or [])
    if premises:
        if account.account_number in premises:
            return RuleResult(rule, True, "Account is on the program's premise list.")
        return RuleResult(rule, False, "Account is not on the program's premise list.")
    zips = set(program.eligible_zip_codes or [])
    if zips:
        if account.zip_code in zips:
            return RuleResult(rule, True, f"ZIP {account.zip_code} is in the program area.")
        return RuleResult(rule, False, f"ZIP {account.zip_code} is outside the program area.")
    if not territory_zip_codes:
        return RuleResult(rule, True, "The utility lists no territory ZIP codes to check.")
    if account.zip_code in territory_zip_codes:
        return RuleResult(rule, True, f"ZIP {account.zip_code} is in the service territory.")
    return RuleResult(rule, False, f"ZIP {account.zip_code} is outside the service territory.")


def check_rate_class(*, program: Program, account: ServiceAccount) -> RuleResult:
    allowed = program.eligible_rate_classes or []
    label = account.get_rate_class_display()
    if not allowed:
        return RuleResult(Rule.RATE_CLASS, True, f"Any rate class ({label}).")
    if account.rate_class in allowed:
        return RuleResult(Rule.RATE_CLASS, True, f"Rate class {label} is eligible.")
    return RuleResult(Rule.RATE_CLASS, False, f"Rate class {label} is not eligible.")


def check_smart_meter(*, program: Program, account: ServiceAccount) -> RuleResult:
    if not program.require_smart_meter:
        return RuleResult(Rule.SMART_METER, True, "Not required.")
    if account.smart_meter:
        return RuleResult(Rule.SMART_METER, True, "The premise has a smart meter.")
    return RuleResult(Rule.SMART_METER, False, "The premise has no smart meter.")


def check_vehicle_capability(*, program: Program, vehicle: Vehicle) -> RuleResult:
    mode = program.kind
    if getattr(vehicle, f"supports_{mode}", False):
        return RuleResult(
            Rule.VEHICLE_CAPABILITY, True, f"The {vehicle.model} supports {mode.upper()}."
        )
    return RuleResult(
        Rule.VEHICLE_CAPABILITY,
        False,
        f"The {vehicle.model} does not support {mode.upper()} (automaker's registration).",
    )


def check_approved_equipment(
    *,
    program: Program,
    vehicle: Vehicle,
    charger: Charger | None,
    approved_pairs: Mapping[tuple[int, str, str, str], frozenset[str]],
) -> RuleResult:
    rule, mode = Rule.APPROVED_EQUIPMENT, program.kind
    if not program.require_approved_equipment:
        return RuleResult(rule, True, "Not required.")
    if charger is None:
        return RuleResult(
            rule, False, "No charger on record for this vehicle, so the pair cannot be checked."
        )
    pair = f"{vehicle.model} × {charger.maker} {charger.model}"
    modes = approved_pairs.get((vehicle.partner_id, vehicle.model, charger.maker, charger.model))
    if modes is None:
        return RuleResult(rule, False, f"{pair} is not on the approved equipment list.")
    if mode not in modes:
        return RuleResult(rule, False, f"{pair} is approved, but not for {mode.upper()}.")
    return RuleResult(rule, True, f"{pair} is approved for {mode.upper()}.")


def check_permission_to_operate(
    *,
    program: Program,
    account: ServiceAccount,
    charger: Charger | None,
    permissions_to_operate: Mapping[tuple[int, int], float | None],
) -> RuleResult:
    """Permission to operate comes from the premise's interconnection application for this
    charger, never from a charger field an import or the admin could set."""
    rule = Rule.PERMISSION_TO_OPERATE
    if not program.require_permission_to_operate:
        return RuleResult(rule, True, "Not required.")
    if charger is None:
        return RuleResult(rule, False, "No charger on record: interconnection PTO is needed.")
    key = (account.pk, charger.pk)
    if key in permissions_to_operate:
        export_kw = permissions_to_operate[key]
        limit = f", export up to {export_kw:g} kW" if export_kw is not None else ""
        return RuleResult(rule, True, f"Permission to operate granted{limit}.")
    return RuleResult(
        rule, False, "Interconnection permission to operate is not granted for this charger."
    )


def check_conflicts(
    *,
    program: Program,
    candidate_enrollment_id: int | None,
    vehicle_id: int,
    account_id: int,
    conflict_set: frozenset[int],
    open_by_vehicle: Mapping[int, Sequence[OpenEnrollment]],
    open_by_account: Mapping[int, Sequence[OpenEnrollment]],
    program_names: Mapping[int, str],
) -> RuleResult:
    """Another open enrollment of the same vehicle — or of the same premise, when the
    program allows one per premise — in this program or one marked as conflicting."""
    rule = Rule.CONFLICTING_PROGRAMS

    def others(rows: Iterable[OpenEnrollment]) -> list[OpenEnrollment]:
        return [r for r in rows if r.id != candidate_enrollment_id and r.program_id in conflict_set]

    by_vehicle = others(open_by_vehicle.get(vehicle_id, ()))
    if by_vehicle:
        name = program_names.get(by_vehicle[0].program_id, "another program")
        return RuleResult(rule, False, f"The vehicle already has an open enrollment in {name}.")
    if program.one_enrollment_per_premise:
        by_premise = others(open_by_account.get(account_id, ()))
        if by_premise:
            name = program_names.get(by_premise[0].program_id, "another program")
            return RuleResult(rule, False, f"The premise already has an open enrollment in {name}.")
    return RuleResult(rule, True, "No open enrollment in this or a conflicting program.")


def check_medical_need(*, program: Program, account: ServiceAccount) -> tuple[RuleResult, bool]:
    """The result, and whether the enrollment must be kept out of events."""
    rule = Rule.MEDICAL_NEED
    if not account.medical_need:
        return RuleResult(rule, True, "No medical need on record."), False
    if program.medical_need_policy == Program.MedicalNeedPolicy.EXCLUDE_FROM_PROGRAM:
        return RuleResult(rule, False, "Medical-need customers are not eligible."), False
    return RuleResult(rule, True, "Medical-need customer: enrolled, never dispatched."), True


def check_income_tier(*, program: Program, account: ServiceAccount) -> tuple[RuleResult, bool]:
    """Never a failure: the result, and whether the enrollment gets the income tier."""
    rule = Rule.INCOME_QUALIFIED
    if not program.income_qualified_tier:
        return RuleResult(rule, True, "The program has no income-qualified tier."), False
    if account.income_qualified:
        return RuleResult(rule, True, "Income-qualified: the higher tier applies."), True
    return RuleResult(rule, True, "Standard tier (not income-qualified)."), False


def evaluate(candidate: Candidate, context: EligibilityContext) -> Evaluation:
    program, account, vehicle = candidate.program, candidate.account, candidate.vehicle
    charger = context.chargers.get(vehicle.charger_id) if vehicle.charger_id else None
    medical, excluded = check_medical_need(program=program, account=account)
    income, income_qualified = check_income_tier(program=program, account=account)
    results = (
        check_territory(
            program=program,
            account=account,
            territory_zip_codes=context.territory_zip_codes.get(program.utility_id, frozenset()),
        ),
        check_rate_class(program=program, account=account),
        check_smart_meter(program=program, account=account),
        check_vehicle_capability(program=program, vehicle=vehicle),
        check_approved_equipment(
            program=program,
            vehicle=vehicle,
            charger=charger,
            approved_pairs=context.approved_pairs,
        ),
        check_permission_to_operate(
            program=program,
            account=account,
            charger=charger,
            permissions_to_operate=context.permissions_to_operate,
        ),
        check_conflicts(
            program=program,
            candidate_enrollment_id=candidate.enrollment_id,
            vehicle_id=vehicle.pk,
            account_id=account.pk,
            conflict_set=context.conflict_sets.get(program.pk, frozenset({program.pk})),
            open_by_vehicle=context.open_by_vehicle,
            open_by_account=context.open_by_account,
            program_names=context.program_names,
        ),
        medical,
        income,
    )
    return Evaluation(
        results=results, income_qualified=income_qualified, excluded_from_events=excluded
    )


# --- Loading a batch ------------------------------------------------------------------------


def load_context(candidates: Sequence[Candidate]) -> EligibilityContext:
    """Everything the rules need for ``candidates``, in at most six queries. Call inside the
    utility's scope."""
    context = EligibilityContext()
    if not candidates:
        return context
    programs = {c.program.pk: c.program for c in candidates}
    utility_ids = {p.utility_id for p in programs.values()}
    context.territory_zip_codes = {
        pk: frozenset(zips or [])
        for pk, zips in Utility.objects.filter(pk__in=utility_ids).values_list(
            "pk", "territory_zip_codes"
        )
    }

    charger_ids = {c.vehicle.charger_id for c in candidates if c.vehicle.charger_id}
    if charger_ids:
        context.chargers = {c.pk: c for c in Charger.objects.filter(pk__in=charger_ids)}

    if charger_ids and any(p.require_permission_to_operate for p in programs.values()):
        context.permissions_to_operate = permissions_to_operate(
            service_account_ids={c.account.pk for c in candidates}, charger_ids=charger_ids
        )

    if any(p.require_approved_equipment for p in programs.values()):
        models = {c.vehicle.model for c in candidates}
        pairs = ApprovedEquipment.objects.filter(vehicle_model__in=models).values_list(
            "partner_id",
            "vehicle_model",
            "charger_maker",
            "charger_model",
            "allows_v1g",
            "allows_v2h",
            "allows_v2g",
        )
        for partner_id, model, maker, charger_model, v1g, v2h, v2g in pairs:
            modes = frozenset(m for m, ok in (("v1g", v1g), ("v2h", v2h), ("v2g", v2g)) if ok)
            context.approved_pairs[(partner_id, model, maker, charger_model)] = modes

    conflict_sets: dict[int, set[int]] = {pk: {pk} for pk in programs}
    context.program_names = {pk: p.name for pk, p in programs.items()}
    through = Program.conflicting_programs.through
    for from_id, to_id, to_name in through.objects.filter(
        from_program_id__in=list(programs)
    ).values_list("from_program_id", "to_program_id", "to_program__name"):
        conflict_sets[from_id].add(to_id)
        context.program_names[to_id] = to_name
    context.conflict_sets = {pk: frozenset(ids) for pk, ids in conflict_sets.items()}

    relevant_programs = set().union(*conflict_sets.values())
    vehicle_ids = {c.vehicle.pk for c in candidates}
    premise_accounts = {c.account.pk for c in candidates if c.program.one_enrollment_per_premise}
    match = Q(vehicle_id__in=vehicle_ids)
    if premise_accounts:
        match |= Q(service_account_id__in=premise_accounts)
    open_rows = (
        Enrollment.objects.filter(match, status__in=Enrollment.OPEN_STATES)
        .filter(program_id__in=relevant_programs)
        .order_by()
        .values_list("id", "program_id", "vehicle_id", "service_account_id")
    )
    by_vehicle: dict[int, list[OpenEnrollment]] = defaultdict(list)
    by_account: dict[int, list[OpenEnrollment]] = defaultdict(list)
    for row in open_rows:
        open_row = OpenEnrollment(*row)
        by_vehicle[open_row.vehicle_id].append(open_row)
        by_account[open_row.service_account_id].append(open_row)
    context.open_by_vehicle = dict(by_vehicle)
    context.open_by_account = dict(by_account)
    return context


def permissions_to_operate(
    *, service_account_ids: Iterable[int], charger_ids: Iterable[int]
) -> dict[tuple[int, int], float | None]:
    """(account, charger) pairs whose interconnection application holds PTO, with the export
    approved. Interconnection sits above this module (it imports eligibility), so the
    application is read through its model by app label, never imported."""
    application = apps.get_model("interconnection", "InterconnectionApplication")
    rows = application.objects.filter(
        status=application.Status.PTO_GRANTED,
        service_account_id__in=list(service_account_ids),
        charger_id__in=list(charger_ids),
    ).values_list("service_account_id", "charger_id", "approved_export_kw")
    return {(account_id, charger_id): export for account_id, charger_id, export in rows}


def evaluate_many(candidates: Sequence[Candidate]) -> list[Evaluation]:
    """Evaluations in the order of ``candidates``, with a constant number of queries."""
    context = load_context(candidates)
    return [evaluate(c, context) for c in candidates]


def candidate_for(enrollment: Enrollment) -> Candidate:
    """The candidate an enrollment stands for (load program, service_account and vehicle
    with it: ``select_related``)."""
    return Candidate(
        program=enrollment.program,
        account=enrollment.service_account,
        vehicle=enrollment.vehicle,
        enrollment_id=enrollment.pk,
    )


# --- What a partner may learn ---------------------------------------------------------------

# Rules that read the customer's account: its rate class, meter, medical need and income tier
# are the utility's, not the automaker's, to know. A partner sees them as one "account" rule.
ACCOUNT_RULES = frozenset(
    {Rule.RATE_CLASS, Rule.SMART_METER, Rule.MEDICAL_NEED, Rule.INCOME_QUALIFIED}
)
PARTNER_ACCOUNT_RULE = "account"
PARTNER_RULE_CHOICES = [
    *((rule, label) for rule, label in RULE_CHOICES if rule not in ACCOUNT_RULES),
    (PARTNER_ACCOUNT_RULE, "Account requirements"),
]
_ACCOUNT_PASSED = "The account meets the program's account requirements."
_ACCOUNT_FAILED = (
    "The account does not meet the program's account requirements; the customer can ask the "
    "utility why."
)


def results_for_partner(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """An evaluation as a partner sees it: the account rules folded into one outcome."""
    shown = [dict(r) for r in results if r["rule"] not in ACCOUNT_RULES]
    account = [r for r in results if r["rule"] in ACCOUNT_RULES]
    if account:
        passed = all(r["passed"] for r in account)
        shown.append(
            {
                "rule": PARTNER_ACCOUNT_RULE,
                "passed": passed,
                "detail": _ACCOUNT_PASSED if passed else _ACCOUNT_FAILED,
            }
        )
    return shown


def failed_rules_for_partner(failed_rules: Iterable[str]) -> list[str]:
    names = [PARTNER_ACCOUNT_RULE if rule in ACCOUNT_RULES else rule for rule in failed_rules]
    return list(dict.fromkeys(names))


def status_reason_for_partner(reason: str) -> str:
    """An evaluation's "Failed: rate_class, territory" with the account rules folded; a
    reason staff wrote for the partner is passed on as written."""
    prefix = "Failed: "
    if not reason.startswith(prefix):
        return reason
    rules = [name.strip() for name in reason.removeprefix(prefix).split(",") if name.strip()]
    return prefix + ", ".join(failed_rules_for_partner(rules))
