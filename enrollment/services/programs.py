"""Programs and their terms: creating and editing a program (a change to its eligibility
rules re-evaluates its open enrollments in the background) and adding terms versions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollment.models import Program, TermsVersion
from portal.audit import record
from portal.tasking import enqueue_on_commit

# Program fields whose change alters eligibility (``rules_version`` goes up).
RULE_FIELDS = (
    "kind",
    "eligible_zip_codes",
    "eligible_account_numbers",
    "eligible_rate_classes",
    "require_approved_equipment",
    "require_permission_to_operate",
    "require_smart_meter",
    "one_enrollment_per_premise",
    "income_qualified_tier",
    "medical_need_policy",
)


def rules_changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in RULE_FIELDS if before.get(name) != after.get(name)]


def program_rules(program: Program) -> dict[str, Any]:
    return {name: getattr(program, name) for name in RULE_FIELDS}


def save_program(
    *,
    program: Program,
    before: dict[str, Any] | None,
    conflicting: Collection[Program],
    **audit_actor: Any,
) -> Program:
    """Create (``before`` None) or update a program from a validated form's instance.

    When eligibility rules change — the rule fields or the set of conflicting programs — the
    program's ``rules_version`` goes up and its open enrollments are re-evaluated in the
    background; programs that gain or lose a conflict with it are re-evaluated too. A larger
    cap promotes the waitlist the same way.
    """
    with transaction.atomic():
        creating = before is None
        conflicting_ids = {p.pk for p in conflicting}
        previous_conflicts: set[int] = set()
        changed_rules: list[str] = []
        if creating:
            program.save()
        else:
            stored = Program.objects.select_for_update(of=("self",)).get(pk=program.pk)
            program.rules_version = stored.rules_version  # another edit may have bumped it
            previous_conflicts = set(program.conflicting_programs.values_list("pk", flat=True))
            changed_rules = rules_changed(before, program_rules(program))
            if previous_conflicts != conflicting_ids:
                changed_rules.append("conflicting_programs")
            if changed_rules:
                program.rules_version += 1
            program.save()
        program.conflicting_programs.set(conflicting_ids)
        touched = (previous_conflicts ^ conflicting_ids) - {program.pk}
        if touched and not creating:
            bump_rules_version(program_ids=touched)
        after = _program_snapshot(program, conflicting_ids)
        if creating:
            changes = after
        else:
            changes = {
                k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v
            }
        record(
            action="program.created" if creating else "program.updated",
            utility=program.utility,
            obj=program,
            changes=changes,
            comment=(
                f"Eligibility rules changed ({', '.join(changed_rules)}): rules version "
                f"{program.rules_version}; open enrollments are re-evaluated."
                if changed_rules
                else ""
            ),
            **audit_actor,
        )
        cap_grew = not creating and _cap_grew(before.get("enrollment_cap"), program.enrollment_cap)
        if changed_rules or cap_grew:
            _schedule_reevaluation(program)
        for other in Program.objects.filter(pk__in=touched):
            _schedule_reevaluation(other)
    return program


def program_snapshot(program: Program) -> dict[str, Any]:
    """The audited fields of a saved program (what ``save_program`` compares against)."""
    return _program_snapshot(
        program, set(program.conflicting_programs.values_list("pk", flat=True))
    )


def _program_snapshot(program: Program, conflicting_ids: Iterable[int]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in Program._meta.concrete_fields:
        if f.name in ("id", "utility", "created_at", "updated_at"):
            continue
        value = getattr(program, f.attname)
        values[f.name] = (
            value if isinstance(value, (str, int, float, bool, list, type(None))) else str(value)
        )
    values["conflicting_programs"] = sorted(conflicting_ids)
    return values


def _cap_grew(before: int | None, after: int | None) -> bool:
    if after is None:
        return before is not None
    return before is not None and after > before


def bump_rules_version(*, program_ids: Iterable[int], reevaluate: bool = False) -> None:
    """Count a change of eligibility's inputs against these programs (their open enrollments
    become stale), and with ``reevaluate`` re-check them in the background after commit."""
    locked = Program.objects.select_for_update(of=("self",)).filter(pk__in=program_ids)
    for program in locked.order_by("pk"):
        program.rules_version += 1
        program.save(update_fields=["rules_version", "updated_at"])
        if reevaluate:
            _schedule_reevaluation(program)


def _schedule_reevaluation(program: Program) -> None:
    from enrollment.tasks import reevaluate_program

    enqueue_on_commit(reevaluate_program, utility_id=program.utility_id, program_id=program.pk)


def add_terms_version(*, terms: TermsVersion, **audit_actor: Any) -> TermsVersion:
    """Save a new version of a program's terms (validated by its form)."""
    try:
        with transaction.atomic():
            terms.save()
            record(
                action="terms_version.created",
                utility=terms.utility,
                obj=terms,
                changes={
                    "program": terms.program.slug,
                    "version": terms.version,
                    "effective_on": terms.effective_on.isoformat(),
                    "consent_valid_days": terms.consent_valid_days,
                },
                **audit_actor,
            )
    except IntegrityError:
        raise ValidationError(
            {"version": "This program already has a terms version with this number."}
        ) from None
    return terms


def current_terms(program: Program, *, on: datetime | None = None) -> TermsVersion | None:
    """The terms in effect: the latest version effective on or before today."""
    today = timezone.localdate(on) if on else timezone.localdate()
    return (
        TermsVersion.objects.filter(program=program, effective_on__lte=today)
        .order_by("-effective_on", "-created_at")
        .first()
    )
