import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.vin import InvalidVIN, check_digit, normalize_vin, with_check_digit

VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


@pytest.mark.parametrize("vin", ["1M8GDM9AXKP042788", "1HGCM82633A004352"])
def test_it_accepts_real_vins(vin):
    assert normalize_vin(vin.lower()) == vin


@pytest.mark.parametrize(
    ("vin", "why"),
    [
        ("1M8GDM9AXKP04278", "17 characters"),
        ("1M8GDM9A1KP042788", "Check digit"),
        ("1M8GDM9AXKP04278O", "never contains O"),
        ("", "17 characters"),
    ],
)
def test_it_rejects_bad_vins_saying_why(vin, why):
    with pytest.raises(InvalidVIN, match=why):
        normalize_vin(vin)


@given(st.text(alphabet=VIN_CHARS, min_size=17, max_size=17))
def test_it_makes_any_body_valid_and_catches_any_single_digit_change(body):
    vin = with_check_digit(body)
    assert normalize_vin(vin) == vin
    wrong = next(c for c in "0123456789X" if c != vin[8])
    assert check_digit(vin) != wrong
