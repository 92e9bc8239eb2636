"""The shapes of postal codes, phone numbers and email addresses that the import checks.

Postal codes are checked for the countries listed here (the common ones); elsewhere any
non-empty code of letters, digits, spaces and dashes passes, and a country that has no
postal codes (``NO_POSTAL_CODE``) takes an empty one.
"""

from __future__ import annotations

import re

POSTAL_CODES: dict[str, re.Pattern[str]] = {
    code: re.compile(pattern)
    for code, pattern in {
        "CN": r"[0-9]{6}",
        "US": r"[0-9]{5}(-[0-9]{4})?",
        "DE": r"[0-9]{5}",
        "FR": r"[0-9]{5}",
        "IT": r"[0-9]{5}",
        "ES": r"[0-9]{5}",
        "NL": r"[0-9]{4} ?[A-Z]{2}",
        "BE": r"[0-9]{4}",
        "AT": r"[0-9]{4}",
        "CH": r"[0-9]{4}",
        "DK": r"[0-9]{4}",
        "NO": r"[0-9]{4}",
        "SE": r"[0-9]{3} ?[0-9]{2}",
        "PL": r"[0-9]{2}-[0-9]{3}",
        "PT": r"[0-9]{4}-[0-9]{3}",
        "GB": r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}",
        "CA": r"[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]",
        "AU": r"[0-9]{4}",
        "JP": r"[0-9]{3}-?[0-9]{4}",
        "KR": r"[0-9]{5}",
        "IN": r"[0-9]{6}",
        "SG": r"[0-9]{6}",
        "TW": r"[0-9]{3}([0-9]{2,3})?",
        "BR": r"[0-9]{5}-?[0-9]{3}",
        "MX": r"[0-9]{5}",
        "RU": r"[0-9]{6}",
    }.items()
}
# Countries without postal codes: an empty code is right there.
NO_POSTAL_CODE = frozenset({"HK", "MO", "AE", "QA", "IE", "PA", "JM", "BS", "FJ"})
_ANY_POSTAL_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{1,11}")

# Digits with an optional leading +, spaces, dashes, dots and brackets; 6 to 15 digits
# (E.164 allows 15). A number the platform masked (138****1234) is told apart.
_PHONE = re.compile(r"\+?[0-9 ().-]{6,24}")
_MASKED_PHONE = re.compile(r"\+?[0-9 ().-]*\*+[0-9 ().*-]*")
_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[A-Za-z0-9-]{2,}")


def postal_code_ok(country: str, code: str) -> bool:
    if country in NO_POSTAL_CODE:
        return code == "" or bool(_ANY_POSTAL_CODE.fullmatch(code))
    pattern = POSTAL_CODES.get(country, _ANY_POSTAL_CODE)
    return bool(pattern.fullmatch(code.upper() if country in ("GB", "CA", "NL") else code))


def phone_shape(value: str) -> str | None:
    """None when ``value`` looks like a phone number, else ``masked`` or ``bad``."""
    if _PHONE.fullmatch(value) and 6 <= sum(c.isdigit() for c in value) <= 15:
        return None
    if _MASKED_PHONE.fullmatch(value) and "*" in value:
        return "masked"
    return "bad"


def email_ok(value: str) -> bool:
    return bool(_EMAIL.fullmatch(value)) and len(value) <= 254
