import pytest

from oms.domain.iso import COUNTRY_CODES, is_country, is_currency, minor_units


def test_there_are_exactly_249_country_codes() -> None:
    assert len(COUNTRY_CODES) == 249


@pytest.mark.parametrize("code", ["US", "DE", "JP", "GB", "BR", "ZA", "NZ"])
def test_assigned_country_codes_are_valid(code: str) -> None:
    assert is_country(code)


@pytest.mark.parametrize("code", ["UK", "XK", "EU", "us", "USA", ""])
def test_unassigned_or_malformed_country_codes_are_rejected(code: str) -> None:
    assert not is_country(code)


@pytest.mark.parametrize(
    ("code", "units"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3), ("CLP", 0)],
)
def test_currency_has_its_iso_number_of_minor_units(code: str, units: int) -> None:
    assert is_currency(code)
    assert minor_units(code) == units


@pytest.mark.parametrize("code", ["HRK", "XAU", "XXX", "usd"])
def test_withdrawn_fund_and_lowercase_currency_codes_are_rejected(code: str) -> None:
    assert not is_currency(code)


def test_minor_units_raises_key_error_for_an_unknown_code() -> None:
    with pytest.raises(KeyError):
        minor_units("ZZZ")
