"""Writes on dispatch groups: create one or change its name, description and members, with
an audit row of what changed."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from dispatch import selectors
from dispatch.models import DispatchGroup
from dispatch.services.errors import GroupError
from dispatch.services.events import AUDITED_VINS
from portal import audit
from portal.models import User, Utility


@transaction.atomic
def save_group(
    *,
    utility: Utility,
    name: str,
    description: str = "",
    vehicle_ids: Iterable[int] = (),
    group: DispatchGroup | None = None,
    actor: User | None = None,
) -> DispatchGroup:
    """Create a dispatch group (``group`` None) or change one: its name, description and
    members, which must be the utility's vehicles. Records what changed, members as counts
    and (up to ``AUDITED_VINS``) VINs added and removed."""
    name, description = name.strip(), description.strip()
    if not name:
        raise GroupError("Give the group a name.", field="name")
    clash = DispatchGroup.objects.filter(utility=utility, name=name)
    if group is not None:
        clash = clash.exclude(pk=group.pk)
    if clash.exists():
        raise GroupError(f"There is already a group named “{name}”.", field="name")
    wanted = set(vehicle_ids)
    # Another utility's vehicle is outside the scope: unknown here.
    if unknown := sorted(wanted - selectors.vins_of(wanted).keys()):
        raise GroupError(
            f"{len(unknown)} vehicle(s) are not vehicles of {utility}.",
            field="vehicles",
            vehicle_ids=unknown,
        )
    Members = DispatchGroup.vehicles.through
    creating = group is None
    if creating:
        group = DispatchGroup.objects.create(utility=utility, name=name, description=description)
        before, current = {"name": "", "description": ""}, set()
    else:
        group = DispatchGroup.objects.select_for_update(of=("self",)).get(pk=group.pk)
        before = {"name": group.name, "description": group.description}
        current = set(
            Members.objects.filter(dispatchgroup_id=group.pk).values_list("vehicle_id", flat=True)
        )
        group.name, group.description = name, description
        group.save(update_fields=["name", "description"])
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if removed:
        Members.objects.filter(dispatchgroup_id=group.pk, vehicle_id__in=removed).delete()
    Members.objects.bulk_create(
        [Members(dispatchgroup_id=group.pk, vehicle_id=pk) for pk in added], batch_size=5000
    )
    after = {"name": name, "description": description}
    changes: dict = {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}
    vins = selectors.vins_of([*added, *removed]) if added or removed else {}
    for label, ids in (("added", added), ("removed", removed)):
        if ids:
            listed = sorted(vins.get(pk, str(pk)) for pk in ids)
            changes[f"vehicles_{label}"] = len(ids)
            changes[f"vins_{label}"] = listed[:AUDITED_VINS]
    audit.record(
        action="dispatch_group.created" if creating else "dispatch_group.updated",
        utility=utility,
        obj=group,
        actor=actor,
        changes={**changes, "vehicles": len(wanted)},
    )
    return group
