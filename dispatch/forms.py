"""Event forms. Times are entered in the utility's time zone and stored in UTC. The targets
(dispatch groups, feeders, named vehicles by VIN) are checked by the same service the
scheduling uses (``services.events.validate_targets``), with one error per bad VIN on top."""

from __future__ import annotations

import re
from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError

from devices.vin import InvalidVIN, normalize_vin
from dispatch import selectors
from dispatch.models import DispatchGroup, Event, GridSignalSource
from dispatch.services import grid_sources
from dispatch.services.errors import GroupError, TargetingError
from dispatch.services.events import validate_targets
from enrollment.models import Program

# Above this many options a list of checkboxes becomes a scrolling multi-select.
MAX_CHECKBOXES = 12
MAX_VINS = 50_000
MAX_VIN_ERRORS = 50
_VIN_SEPARATORS = re.compile(r"[\s,;]+")


def parse_vins(text: str) -> list[str]:
    """The VINs in ``text`` (one a line, or separated by commas, semicolons or spaces),
    upper-cased, duplicates dropped, in the order given."""
    return list(dict.fromkeys(v.upper() for v in _VIN_SEPARATORS.split(text or "") if v))


def vin_format_errors(vins: list[str]) -> list[str]:
    errors = []
    for vin in vins:
        try:
            normalize_vin(vin)
        except InvalidVIN as exc:
            errors.append(f"{vin}: {exc}")
    return errors


def capped(errors: list[str]) -> list[str]:
    """At most ``MAX_VIN_ERRORS`` messages, the rest counted, so a pasted list of thousands
    of wrong VINs gives a readable page."""
    if len(errors) <= MAX_VIN_ERRORS:
        return errors
    return [*errors[:MAX_VIN_ERRORS], f"… and {len(errors) - MAX_VIN_ERRORS} more."]


class VinListField(forms.CharField):
    """A textarea of VINs: cleans to the list of well-formed VINs (see ``parse_vins``), with
    one error per malformed VIN."""

    widget = forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocapitalize": "off"})

    def to_python(self, value) -> list[str]:
        return parse_vins(super().to_python(value))

    def validate(self, value) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        if len(value) > MAX_VINS:
            raise ValidationError(
                f"{len(value):,} VINs; at most {MAX_VINS:,} at once. Use a dispatch group."
            )
        if errors := vin_format_errors(value):
            raise ValidationError(capped(errors))

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value


class FeederField(forms.MultipleChoiceField):
    """Feeder codes. The choices only show what is known; any code is accepted here and
    checked against the chosen program by the service, which names the unknown ones."""

    def valid_value(self, value) -> bool:
        return True


class GroupChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: DispatchGroup) -> str:
        count = obj.vehicle_count
        return f"{obj.name} ({count:,} vehicle{'s' if count != 1 else ''})"


def _vehicles(count: int) -> str:
    return f"{count:,} vehicle{'s' if count != 1 else ''}"


class EventForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    event_type = forms.ChoiceField(choices=Event.Type.choices)
    starts_at = forms.DateTimeField(
        label="Start (local time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    duration_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, initial=120)
    notification_lead_minutes = forms.IntegerField(min_value=0, initial=60)
    randomize_start_minutes = forms.IntegerField(min_value=0, initial=0)
    target_kw = forms.FloatField(
        min_value=0, required=False, label="Target kW", help_text="Empty: all available."
    )
    priority = forms.IntegerField(initial=0)
    targeting = forms.ChoiceField(
        choices=Event.Targeting.choices,
        initial=Event.Targeting.WHOLE_PROGRAM,
        required=False,  # left out: the whole program
        widget=forms.RadioSelect,
        label="Dispatch to",
    )
    groups = GroupChoiceField(
        queryset=DispatchGroup.objects.none(), required=False, label="Dispatch groups"
    )
    feeders = FeederField(required=False, label="Feeders")
    vins = VinListField(
        required=False,
        label="Named vehicles (VINs)",
        help_text="One VIN per line, or separated by commas; upper or lower case; duplicates "
        "are ignored. Each must be actively enrolled in the program.",
    )

    TARGET_FIELDS = ("targeting", "groups", "feeders", "vins")

    def __init__(self, *args, utility, **kwargs):
        super().__init__(*args, **kwargs)
        self.utility = utility
        self.fields["program"].queryset = Program.objects.exclude(status=Program.Status.DRAFT)
        self.fields["starts_at"].help_text = f"In {utility.time_zone}."
        # The widget first: setting the choices hands them to the widget in place.
        groups = self.fields["groups"]
        groups.widget = self._multiple_widget(DispatchGroup.objects.count())
        groups.queryset = selectors.groups_with_counts()
        program = self.program_given()
        feeders = self.fields["feeders"]
        counts = selectors.feeder_counts(program=program)
        feeders.widget = self._multiple_widget(len(counts))
        feeders.choices = [(code, f"{code} ({_vehicles(n)})") for code, n in counts]
        feeders.help_text = (
            f"Feeders of the accounts enrolled in {program}, with their dispatchable vehicles."
            if program
            else "Feeders of the accounts enrolled in the utility's programs, with their "
            "dispatchable vehicles; preview to see the chosen program's."
        )

    @staticmethod
    def _multiple_widget(options: int) -> forms.Widget:
        if options > MAX_CHECKBOXES:
            return forms.SelectMultiple(attrs={"size": MAX_CHECKBOXES})
        return forms.CheckboxSelectMultiple()

    def program_given(self) -> Program | None:
        """The program the form was posted (or opened) with, to list its feeders."""
        raw = self.data.get("program") if self.is_bound else self.initial.get("program")
        if isinstance(raw, Program):
            return raw
        if raw is None or not str(raw).isdigit():
            return None
        return self.fields["program"].queryset.filter(pk=int(raw)).first()

    @property
    def target_fields(self):
        return [self[name] for name in self.TARGET_FIELDS]

    @property
    def event_fields(self):
        return [f for f in self.visible_fields() if f.name not in self.TARGET_FIELDS]

    def clean_starts_at(self) -> datetime:
        value = self.cleaned_data["starts_at"]
        # The browser sends a naive local time; it means the utility's zone, not the server's.
        return value.replace(tzinfo=None).replace(tzinfo=self.utility.tzinfo)

    def clean_targeting(self) -> str:
        return self.cleaned_data["targeting"] or Event.Targeting.WHOLE_PROGRAM

    def clean(self):
        data = super().clean()
        program, targeting = data.get("program"), data.get("targeting")
        if program is None or targeting is None or self.has_error("vins"):
            return data
        vehicle_ids = self._named_vehicle_ids(program, data.get("vins") or [])
        if vehicle_ids is None:
            return data
        try:
            data["targets"] = validate_targets(
                utility=self.utility,
                program=program,
                targeting=targeting,
                vehicle_ids=vehicle_ids,
                group_ids=[g.pk for g in data.get("groups") or []],
                feeders=data.get("feeders") or [],
            )
        except TargetingError as exc:
            self.add_target_error(exc)
        return data

    def add_target_error(self, exc: TargetingError) -> None:
        field = exc.details.get("field")
        self.add_error("vins" if field == "vehicles" else field, exc.message)

    def _named_vehicle_ids(self, program: Program, vins: list[str]) -> list[int] | None:
        """The vehicles the VINs name, or None after adding one error per VIN that is not a
        vehicle of the utility or cannot be dispatched in ``program``."""
        if not vins:
            return []
        found = selectors.vehicles_by_vin(vins)
        problems = selectors.named_vehicle_problems(program=program, vehicle_ids=found.values())
        errors = [
            f"{vin}: {selectors.NO_VEHICLE}"
            if vin not in found
            else f"{vin}: {problems[found[vin]]}"
            for vin in vins
            if vin not in found or found[vin] in problems
        ]
        if errors:
            self.add_error("vins", capped(errors))
            return None
        return list(found.values())


class DispatchGroupForm(forms.Form):
    """A dispatch group: name, description, and its members as a list of VINs (each must be
    one of the utility's vehicles)."""

    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=250, required=False)
    vins = VinListField(
        required=False,
        label="Members (VINs)",
        help_text="One VIN per line, or separated by commas; upper or lower case; duplicates "
        "are ignored. Leave out a VIN to remove that vehicle from the group.",
    )

    def clean(self):
        data = super().clean()
        vins = data.get("vins")
        if vins is None:
            return data
        found = selectors.vehicles_by_vin(vins)
        if missing := [f"{vin}: {selectors.NO_VEHICLE}" for vin in vins if vin not in found]:
            self.add_error("vins", capped(missing))
        else:
            data["vehicle_ids"] = list(found.values())
        return data

    def add_group_error(self, exc: GroupError) -> None:
        field = exc.details.get("field")
        self.add_error("vins" if field == "vehicles" else field, exc.message)


class EventActionForm(forms.Form):
    expected_modification = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    minutes = forms.IntegerField(min_value=1, max_value=24 * 60, required=False)
    reason = forms.CharField(required=False, max_length=500)


class EndEarlyForm(EventActionForm):
    """Ending an event now restores the whole fleet: it takes a confirmation (the
    confirmation page's button) and a reason, which the audit row keeps."""

    reason = forms.CharField(max_length=500, strip=True, widget=forms.Textarea(attrs={"rows": 3}))
    confirm = forms.BooleanField(
        required=True, widget=forms.HiddenInput, error_messages={"required": "Confirm first."}
    )


FINGERPRINT = re.compile(r"(?:[0-9A-F]{2}:){9}[0-9A-F]{2}")


class GridSignalSourceForm(forms.Form):
    name = forms.CharField(max_length=120)
    protocol = forms.ChoiceField(
        choices=GridSignalSource.Protocol.choices,
        initial=GridSignalSource.Protocol.OPENADR_20B,
        required=False,  # left out: OpenADR 2.0b, as before the choice existed
    )
    vtn_url = forms.URLField(
        max_length=300,
        label="VTN URL",
        assume_scheme="https",
        help_text="OpenADR 2.0b: the VTN, e.g. http://127.0.0.1:8080/OpenADR2/Simple/2.0b. "
        "OpenADR 3: the API's base URL, e.g. http://127.0.0.1:8081/openadr3/3.0.1.",
    )
    ven_name = forms.CharField(
        max_length=100, label="VEN name", help_text="The name this portal registers under."
    )
    vtn_fingerprint = forms.CharField(
        max_length=32,
        required=False,
        label="VTN certificate fingerprint",
        help_text="e.g. 3F:8A:…:C2 (10 pairs). When given, every message from the VTN must be "
        "signed by that certificate; others are dropped.",
    )
    active = forms.BooleanField(required=False, initial=True, help_text="Poll this VTN for events.")
    # OpenADR 3 only (shown when that protocol is chosen).
    OPENADR3_FIELDS = grid_sources.OPENADR3_FIELDS
    token_url = forms.URLField(
        max_length=300,
        required=False,
        label="Token URL",
        assume_scheme="https",
        help_text="OAuth2 client credentials, e.g. http://127.0.0.1:8081/openadr3/3.0.1/auth/token.",
    )
    client_id = forms.CharField(max_length=200, required=False, label="Client id")
    client_secret = forms.CharField(
        max_length=4096,
        required=False,
        label="Client secret",
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again; leave empty to keep the current one.",
    )
    dispatch_prices = forms.BooleanField(
        required=False,
        label="Dispatch price-only events",
        help_text="Off: PRICE payloads are recorded for planning and nothing is dispatched.",
    )

    def clean_protocol(self):
        return self.cleaned_data["protocol"] or GridSignalSource.Protocol.OPENADR_20B

    def clean(self):
        data = super().clean()
        if data.get("protocol") == GridSignalSource.Protocol.OPENADR_3:
            for name, label in (("token_url", "the token URL"), ("client_id", "the client id")):
                if not data.get(name):
                    self.add_error(name, f"An OpenADR 3 source needs {label}.")
        return data

    def clean_vtn_fingerprint(self):
        value = self.cleaned_data["vtn_fingerprint"].strip().upper().replace("-", ":")
        if value and not FINGERPRINT.fullmatch(value):
            raise ValidationError(
                "An OpenADR fingerprint is 10 pairs of hex digits separated by colons."
            )
        return value


class GridSignalRouteForm(forms.Form):
    market_context = forms.CharField(
        max_length=200, help_text="As the VTN sends it, e.g. oadr://iso/peak."
    )
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    event_type = forms.ChoiceField(
        required=False,
        label="Event type",
        choices=[("", "The program's kind (V1G load reduction, V2H home supply, V2G export)")]
        + [(v, label) for v, label in Event.Type.choices if v != Event.Type.PRICE_SIGNAL],
    )

    def __init__(self, *args, programs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs


class GridUnavailabilityForm(forms.Form):
    """A planned unavailability window to tell a source's VTN (``oadrCreateOpt``)."""

    starts_at = forms.DateTimeField(
        label="From (local time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label="Until (local time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    note = forms.CharField(label="Why", max_length=300, required=False)


class GridOptOutForm(forms.Form):
    # The modification the page showed: the VTN may have changed the event since.
    modification_number = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    note = forms.CharField(label="Why", max_length=300, required=False)


class GridOptCancelForm(forms.Form):
    # The state the page showed: the VTN may have answered since.
    state = forms.CharField(max_length=16, widget=forms.HiddenInput)
