"""Masking helpers: what pages and exports show instead of PII."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.masking import mask_address, mask_email, mask_id_number, mask_name, mask_phone


@pytest.mark.parametrize(
    ("mask", "value", "masked"),
    [
        (mask_id_number, "110101199003071234", "110***********1234"),
        (mask_id_number, "11010119900307123X", "110***********123X"),
        (mask_id_number, "110101900307123", "110********7123"),
        (mask_phone, "13812345678", "138****5678"),
        (mask_phone, "+8613812345678", "+86*******5678"),
        (mask_email, "zhangsan@example.com", "z*******@example.com"),
        (mask_email, "li@example.com", "**@example.com"),
        (mask_address, "北京市朝阳区建国路88号", "北京市朝阳区****"),
        (mask_name, "张三丰", "张**"),
        (mask_name, "张三", "张*"),
        (mask_name, "欧阳娜娜", "欧***"),
    ],
)
def test_mask_examples(mask, value, masked):
    """Each helper keeps only its documented visible parts."""
    assert mask(value) == masked


@pytest.mark.parametrize("mask", [mask_id_number, mask_phone, mask_email, mask_address, mask_name])
@pytest.mark.parametrize("value", [None, ""])
def test_nothing_masks_to_empty(mask, value):
    """None and "" render as an empty string."""
    assert mask(value) == ""


@pytest.mark.parametrize(
    ("mask", "value", "masked"),
    [
        (mask_phone, "5678", "****"),
        (mask_phone, "1234567", "*******"),
        (mask_phone, "1381234567", "**********"),
        (mask_id_number, "12345678", "********"),
        (mask_email, "nobody", "******"),
        (mask_email, "@example.com", "************"),
        (mask_email, "a@example.com", "*@example.com"),
        (mask_address, "朝阳区", "****"),
        (mask_address, "北京市朝阳区", "****"),
        (mask_name, "张", "*"),
    ],
)
def test_short_values_are_starred_in_full(mask, value, masked):
    """A value too short to keep its visible parts and still hide enough is not revealed at all."""
    assert mask(value) == masked


def test_surrounding_whitespace_is_dropped_before_masking():
    assert mask_phone(" 13812345678 ") == "138****5678"


# --- Properties --------------------------------------------------------------------------


@given(value=st.text(min_size=1).map(str.strip))
def test_phone_and_id_masks_keep_the_length(value):
    """The mask has one character per input character, so layouts do not shift."""
    assert len(mask_phone(value)) == len(value)
    assert len(mask_id_number(value)) == len(value)


@given(value=st.from_regex(r"[0-9]{11,18}", fullmatch=True))
def test_masks_never_reveal_the_middle_digits(value):
    """Everything between the first 3 and the last 4 characters is a star."""
    for masked in (mask_phone(value), mask_id_number(value)):
        assert masked[:3] == value[:3]
        assert masked[-4:] == value[-4:]
        assert set(masked[3:-4]) == {"*"}


@given(value=st.text(alphabet=st.characters(exclude_characters="*"), max_size=12).map(str.strip))
def test_at_least_four_characters_or_all_are_hidden(value):
    """Whatever the input, at least four characters (or all of a shorter one) are hidden."""
    assert mask_phone(value).count("*") >= min(4, len(value))


@given(
    name=st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=2, max_size=6)
)
def test_name_mask_keeps_only_the_first_character(name):
    masked = mask_name(name)
    assert masked == name[0] + "*" * (len(name) - 1)


@given(address=st.text(min_size=1).map(str.strip).filter(bool))
def test_address_mask_shows_at_most_six_characters(address):
    """An address shows at most its first six characters, then a fixed mask that hides its length."""
    masked = mask_address(address)
    assert masked.endswith("****")
    visible = masked.removesuffix("****")
    assert len(visible) <= 6
    assert address.startswith(visible)
