"""Mask PII for display: pages, exports and logs show these, never the plaintext.

Every function takes the value positionally so it reads like a formatter
(``mask_phone(customer.phone)``); None gives "".
Surrounding whitespace is dropped first. A value too short to keep its visible parts
while still hiding at least MIN_HIDDEN characters is starred in full, so short inputs
never leak.
"""

from __future__ import annotations

MASK_CHAR = "*"
# A mobile number keeps 3 + 4 of its 11 digits visible, hiding 4; nothing hides fewer.
MIN_HIDDEN = 4
ADDRESS_VISIBLE_PREFIX = 6
ADDRESS_MASK = "****"


def _mask_middle(value: str, *, keep_head: int, keep_tail: int) -> str:
    if len(value) < keep_head + keep_tail + MIN_HIDDEN:
        return MASK_CHAR * len(value)
    hidden = len(value) - keep_head - keep_tail
    return value[:keep_head] + MASK_CHAR * hidden + value[len(value) - keep_tail :]


def mask_id_number(value: str | None) -> str:
    """Keep the first 3 and last 4 characters: '110101199003071234' -> '110***********1234'."""
    if value is None:
        return ""
    return _mask_middle(value.strip(), keep_head=3, keep_tail=4)


def mask_phone(value: str | None) -> str:
    """Keep the first 3 and last 4 characters: '13812345678' -> '138****5678'."""
    if value is None:
        return ""
    return _mask_middle(value.strip(), keep_head=3, keep_tail=4)


def mask_email(value: str | None) -> str:
    """Keep the first character of the local part and the domain: 'zhang@x.cn' -> 'z****@x.cn'."""
    if value is None:
        return ""
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return MASK_CHAR * len(value)
    # A one- or two-character local part would be (half) revealed by its first character.
    if len(local) < 3:
        return MASK_CHAR * len(local) + at + domain
    return local[0] + MASK_CHAR * (len(local) - 1) + at + domain


def mask_address(value: str | None) -> str:
    """Keep the first 6 characters (roughly province, city, district), then '****'."""
    if value is None:
        return ""
    value = value.strip()
    if not value:
        return ""
    if len(value) <= ADDRESS_VISIBLE_PREFIX:
        return ADDRESS_MASK
    return value[:ADDRESS_VISIBLE_PREFIX] + ADDRESS_MASK


def mask_name(value: str | None) -> str:
    """Keep the first character (the family name for most Chinese names): '张三丰' -> '张**'."""
    if value is None:
        return ""
    value = value.strip()
    if len(value) < 2:
        return MASK_CHAR * len(value)
    return value[0] + MASK_CHAR * (len(value) - 1)
