"""The one home of the two personal identifiers every app handles: mainland mobile numbers and
PRC resident ID numbers (GB 11643).

core.crypto's blind indexes, the customer rules (customers.rules: page forms, API, import,
data-quality pass) and the complaints desk all normalise and check them here, so a number
found by one is found by all ("0086 138…", "+86 138…" and "138…" are the same phone).

Nothing here echoes a value in an error: callers report codes and lengths, never the number.
"""

from __future__ import annotations

import operator
import re
from datetime import date

MOBILE_PHONE_PATTERN = re.compile(r"1[3-9][0-9]{9}")
RESIDENT_ID_PATTERN = re.compile(r"[0-9]{17}[0-9X]")
RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK_CHARACTERS = "10X98765432"
_ZERO_TIMES_WEIGHTS = ord("0") * sum(RESIDENT_ID_WEIGHTS)
_NON_DIGITS = re.compile(r"[^0-9]")
_WHITESPACE = re.compile(r"\s+")
COUNTRY_PREFIXES = ("0086", "86")

# Defect codes of a resident ID number (resident_id_defect).
ID_SHAPE = "shape"
ID_CHECK_CHARACTER = "check_character"


def phone_normalise(value: str | None) -> str:
    """The canonical digits of a phone number: separators dropped, a 0086 / +86 / 86 prefix
    before an 11-digit number removed. Anything else keeps all its digits."""
    digits = _NON_DIGITS.sub("", value or "")
    for prefix in COUNTRY_PREFIXES:
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix):]
    return digits


def phone_is_mainland_mobile(value: str) -> bool:
    """Whether the value, as stored, is a canonical mainland mobile number (1[3-9] + 9 digits)."""
    return MOBILE_PHONE_PATTERN.fullmatch(value) is not None


def resident_id_normalise(value: str | None) -> str:
    """Whitespace removed and a trailing x upper-cased (the only letter a resident ID has)."""
    return _WHITESPACE.sub("", value or "").upper()


def resident_id_check_character(first_17_digits: str) -> str:
    """Return the GB 11643 check character for the first 17 digits of a resident ID number.

    Weighted over the digits' character codes and corrected by 48 ("0") times the weights' sum: the
    same total as int(digit) * weight, at a fifth of the cost (the import and the data-quality pass
    check every customer's number).
    """
    if len(first_17_digits) != len(RESIDENT_ID_WEIGHTS) or not (first_17_digits.isascii()
                                                                and first_17_digits.isdigit()):
        raise ValueError("expected the 17 leading digits of a resident ID number")
    total = sum(map(operator.mul, first_17_digits.encode("ascii"), RESIDENT_ID_WEIGHTS)) - _ZERO_TIMES_WEIGHTS
    return RESIDENT_ID_CHECK_CHARACTERS[total % 11]


def resident_id_defect(value: str) -> str | None:
    """ID_SHAPE, ID_CHECK_CHARACTER or None for a normalised resident ID number."""
    if not RESIDENT_ID_PATTERN.fullmatch(value):
        return ID_SHAPE
    if resident_id_check_character(value[:17]) != value[17]:
        return ID_CHECK_CHARACTER
    return None


def resident_id_birth_date(value: str) -> date | None:
    """The birth date encoded in digits 7-14 of an 18-character ID number; None when impossible."""
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None
