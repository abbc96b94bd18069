"""Vehicle identification numbers (49 CFR 565): 17 characters, check digit in position 9."""

from __future__ import annotations

from django.core.exceptions import ValidationError

_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}  # fmt: skip
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


class InvalidVIN(ValueError):
    pass


def check_digit(vin: str) -> str:
    """The check digit (``0``–``9`` or ``X``) that position 9 of ``vin`` must hold."""
    total = sum(_TRANSLITERATION[ch] * w for ch, w in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalize_vin(raw: str) -> str:
    """Upper-cased, stripped VIN, or InvalidVIN saying what is wrong."""
    vin = (raw or "").strip().upper()
    if len(vin) != 17:
        raise InvalidVIN(f"A VIN has 17 characters; got {len(vin)}.")
    bad = sorted({ch for ch in vin if ch not in _TRANSLITERATION})
    if bad:
        raise InvalidVIN(f"A VIN never contains {', '.join(bad)} (I, O and Q are not used).")
    expected = check_digit(vin)
    if vin[8] != expected:
        raise InvalidVIN(f"Check digit mismatch: position 9 is {vin[8]}, expected {expected}.")
    return vin


def validate_vin(value: str) -> None:
    try:
        normalize_vin(value)
    except InvalidVIN as exc:
        raise ValidationError(str(exc), code="invalid_vin") from None


def with_check_digit(vin17: str) -> str:
    """Fix position 9 of a 17-character VIN body (for demo fleets and tests)."""
    vin = vin17.upper()
    return vin[:8] + check_digit(vin[:8] + "0" + vin[9:]) + vin[9:]
