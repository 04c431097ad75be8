"""Encrypted PII fields, key configuration, the blind index and the PII key system check."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured, ValidationError
from django.db import connection, models
from django.test.utils import isolate_apps
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core import checks as core_checks
from core import crypto
from core.fields import BlindIndexField, EncryptedTextField
from tests.piiapp.models import PiiRecord

ID_NUMBER = "110101199003071234"
# What a Chinese input method in full-width mode types for 0-9.
FULL_WIDTH_DIGITS = {ord(digit): ord(digit) + 0xFEE0 for digit in "0123456789"}
PHONE = "13812345678"


def new_key() -> str:
    return Fernet.generate_key().decode()


def stored_column(*, record: PiiRecord, column: str) -> str | None:
    """Return what the database holds, bypassing from_db_value."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM piiapp_piirecord WHERE id = %s", [record.pk])
        return cursor.fetchone()[0]


def overwrite_column(*, record: PiiRecord, column: str, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE piiapp_piirecord SET {column} = %s WHERE id = %s", [value, record.pk])


# --- Key configuration ------------------------------------------------------------------


def test_keys_parse_with_the_first_pair_as_primary():
    """The first key_id:key pair encrypts; the rest only decrypt."""
    # given
    raw = f" new:{new_key()} , old:{new_key()}"
    # when
    keyring = crypto.parse_encryption_keys(raw=raw)
    # then
    assert keyring.primary_key_id == "new"
    assert keyring.key_ids == ("new", "old")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "not set"),
        ("", "not set"),
        ("   ", "not set"),
        ("nocolon", "not a key_id:fernet_key pair"),
        (f"a:{'x' * 44}", "not a valid Fernet key"),
        ("a:", "not a key_id:fernet_key pair"),
        ("a:KEY1,,b:KEY2", "entry 2 is not a key_id:fernet_key pair"),
        ("bad$id:KEY", "key id must be"),
        ("dup:KEY,dup:KEY", "more than once"),
    ],
)
def test_malformed_keys_are_improperly_configured(raw, message):
    """Missing, malformed, duplicate or invalid keys are refused with a message naming the problem."""
    # given: placeholders replaced by real keys so only the intended fault remains
    raw = raw.replace("KEY1", new_key()).replace("KEY2", new_key()).replace("KEY", new_key()) if raw else raw
    # when / then
    with pytest.raises(ImproperlyConfigured, match=message):
        crypto.parse_encryption_keys(raw=raw)


def test_invalid_key_error_does_not_echo_the_key():
    """A bad key is named by its id only, so the secret never lands in a log."""
    # given
    secret = "not-a-fernet-key-but-still-secret"
    # when
    with pytest.raises(ImproperlyConfigured) as excinfo:
        crypto.parse_encryption_keys(raw=f"k1:{secret}")
    # then
    assert secret not in str(excinfo.value)
    assert "'k1'" in str(excinfo.value)


def test_changing_the_setting_resets_the_cached_keyring(settings):
    """The settings fixture takes effect immediately: the keyring cache is cleared on change."""
    # given
    crypto.get_keyring()
    # when
    settings.PII_ENCRYPTION_KEYS = f"fresh:{new_key()}"
    # then
    assert crypto.encrypt(plaintext="x").startswith("fresh$")


def test_system_check_reports_bad_keys(settings):
    """The PII system check turns bad settings into errors at start-up."""
    # given
    settings.PII_ENCRYPTION_KEYS = "broken"
    settings.PII_BLIND_INDEX_KEY = "short"
    # when
    errors = core_checks.pii_keys_check(None)
    # then
    assert [error.id for error in errors] == ["core.E100", "core.E101"]


def test_system_check_passes_with_test_settings():
    """The keys configured for tests parse."""
    assert core_checks.pii_keys_check(None) == []


# --- Encrypted fields through the database -----------------------------------------------


@pytest.mark.django_db
def test_values_round_trip_through_the_database():
    """Saved PII reads back equal from a fresh query, while the column holds key_id$ciphertext."""
    # given
    record = PiiRecord.objects.create(
        name="r", id_number=ID_NUMBER, phone=PHONE, email="Zhang.San@Example.com"
    )
    # when
    fresh = PiiRecord.objects.get(pk=record.pk)
    # then
    assert (fresh.id_number, fresh.phone, fresh.email) == (ID_NUMBER, PHONE, "Zhang.San@Example.com")
    stored = stored_column(record=record, column="id_number")
    assert stored.startswith("test2$gAAAA")
    assert ID_NUMBER not in stored


@pytest.mark.django_db
def test_none_is_stored_as_null_and_empty_string_as_empty():
    """NULL and "" carry no PII and are stored as such, unencrypted."""
    # given
    record = PiiRecord.objects.create(name="r", id_number="", phone="", email=None)
    # when
    fresh = PiiRecord.objects.get(pk=record.pk)
    # then
    assert (fresh.id_number, fresh.email) == ("", None)
    assert stored_column(record=record, column="id_number") == ""
    assert stored_column(record=record, column="email") is None


@pytest.mark.django_db
def test_queryset_update_encrypts():
    """QuerySet.update goes through get_prep_value too."""
    # given
    record = PiiRecord.objects.create(name="r", id_number=ID_NUMBER)
    # when
    PiiRecord.objects.filter(pk=record.pk).update(email="li@example.com")
    # then
    assert stored_column(record=record, column="email").startswith("test2$")
    assert PiiRecord.objects.get(pk=record.pk).email == "li@example.com"


@pytest.mark.django_db
def test_bulk_create_encrypts_and_sets_blind_indexes():
    """bulk_create runs pre_save, so it stores ciphertext and indexes like save() does."""
    # when
    (record,) = PiiRecord.objects.bulk_create([PiiRecord(name="r", id_number=ID_NUMBER, phone=PHONE)])
    # then
    assert stored_column(record=record, column="phone").startswith("test2$")
    assert stored_column(record=record, column="phone_bidx") == crypto.blind_index(kind="phone", value=PHONE)


@pytest.mark.django_db
def test_bulk_update_encrypts_but_leaves_the_blind_index_to_the_caller():
    """bulk_update skips pre_save: values are encrypted, the index must be set by the caller."""
    # given
    record = PiiRecord.objects.create(name="r", id_number=ID_NUMBER, phone=PHONE)
    new_phone = "13900000000"
    # when
    record.phone = new_phone
    PiiRecord.objects.bulk_update([record], ["phone"])
    # then
    assert stored_column(record=record, column="phone").startswith("test2$")
    assert PiiRecord.objects.get(pk=record.pk).phone == new_phone
    assert stored_column(record=record, column="phone_bidx") == crypto.blind_index(kind="phone", value=PHONE)
    # when: the caller sets the index, as the BlindIndexField docstring says
    record.phone_bidx = crypto.blind_index(kind="phone", value=new_phone)
    PiiRecord.objects.bulk_update([record], ["phone", "phone_bidx"])
    # then
    assert PiiRecord.objects.get(phone_bidx=crypto.blind_index(kind="phone", value=new_phone)) == record


@pytest.mark.django_db
def test_values_written_under_an_older_key_still_decrypt(settings):
    """After a new primary key is added, values on the old key keep reading correctly."""
    # given
    old_key = new_key()
    settings.PII_ENCRYPTION_KEYS = f"old:{old_key}"
    record = PiiRecord.objects.create(name="r", id_number=ID_NUMBER)
    # when
    settings.PII_ENCRYPTION_KEYS = f"new:{new_key()},old:{old_key}"
    # then
    assert PiiRecord.objects.get(pk=record.pk).id_number == ID_NUMBER


@pytest.mark.django_db
def test_wrong_key_raises(settings):
    """A key id bound to a different key fails loudly instead of returning ciphertext."""
    # given
    settings.PII_ENCRYPTION_KEYS = f"k1:{new_key()}"
    record = PiiRecord.objects.create(name="r", id_number=ID_NUMBER)
    # when
    settings.PII_ENCRYPTION_KEYS = f"k1:{new_key()}"
    # then
    with pytest.raises(crypto.PiiDecryptionError) as excinfo:
        PiiRecord.objects.get(pk=record.pk)
    assert excinfo.value.key_id == "k1"


@pytest.mark.django_db
def test_tampered_token_raises():
    """A ciphertext changed in the database fails its HMAC and raises."""
    # given
    record = PiiRecord.objects.create(name="r", id_number=ID_NUMBER)
    stored = stored_column(record=record, column="id_number")
    flipped = "A" if stored[-5] != "A" else "B"
    overwrite_column(record=record, column="id_number", value=stored[:-5] + flipped + stored[-4:])
    # when / then
    with pytest.raises(crypto.PiiDecryptionError):
        PiiRecord.objects.get(pk=record.pk)


@pytest.mark.django_db
def test_unknown_key_id_raises(settings):
    """A value naming a key id that is no longer configured raises UnknownKeyIdError."""
    # given
    settings.PII_ENCRYPTION_KEYS = f"gone:{new_key()}"
    record = PiiRecord.objects.create(name="r", id_number=ID_NUMBER)
    # when
    settings.PII_ENCRYPTION_KEYS = f"other:{new_key()}"
    # then
    with pytest.raises(crypto.UnknownKeyIdError, match="'gone'"):
        PiiRecord.objects.get(pk=record.pk)


@pytest.mark.django_db
def test_legacy_plaintext_raises_without_echoing_it():
    """A value with no key id prefix is refused, and the error does not contain it."""
    # given
    record = PiiRecord.objects.create(name="r")
    overwrite_column(record=record, column="id_number", value=ID_NUMBER)
    # when
    with pytest.raises(crypto.PiiDecryptionError) as excinfo:
        PiiRecord.objects.get(pk=record.pk)
    # then
    assert ID_NUMBER not in str(excinfo.value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "filters",
    [
        {"id_number": ID_NUMBER},
        {"phone__iexact": PHONE},
        {"phone__contains": "1234"},
        {"email__in": ["a@example.com"]},
        {"id_number__startswith": "110"},
        {"id_number__gt": ""},
    ],
)
def test_filtering_on_plaintext_raises(filters):
    """Ciphertext is randomised, so a plaintext filter fails loudly rather than matching nothing."""
    # given
    PiiRecord.objects.create(name="r", id_number=ID_NUMBER, phone=PHONE, email="a@example.com")
    # when / then
    with pytest.raises(FieldError, match="BlindIndexField"):
        PiiRecord.objects.filter(**filters).count()


@pytest.mark.django_db
def test_transforms_on_encrypted_fields_are_refused():
    """A transform such as __lower would run on ciphertext, so it is unsupported."""
    with pytest.raises(FieldError):
        PiiRecord.objects.filter(email__lower__exact="a@example.com").count()


@pytest.mark.django_db
def test_null_checks_still_work():
    """isnull (and Django's `field=None`) are the lookups that stay meaningful."""
    # given
    with_email = PiiRecord.objects.create(name="a", email="a@example.com")
    without_email = PiiRecord.objects.create(name="b", email=None)
    # when
    null_pks = set(PiiRecord.objects.filter(email__isnull=True).values_list("pk", flat=True))
    none_pks = set(PiiRecord.objects.filter(email=None).values_list("pk", flat=True))
    # then
    assert null_pks == none_pks == {without_email.pk}
    assert set(PiiRecord.objects.exclude(email=None).values_list("pk", flat=True)) == {with_email.pk}


@pytest.mark.django_db
def test_encrypted_char_field_validates_plaintext_length():
    """max_length on EncryptedCharField limits the plaintext, not the (longer) ciphertext."""
    # given
    record = PiiRecord(name="r", id_number=ID_NUMBER, phone="1" * 33)
    # when / then
    with pytest.raises(ValidationError) as excinfo:
        record.full_clean()
    assert "phone" in excinfo.value.message_dict


def test_encrypted_field_refuses_unique_and_index():
    """Declaring an encrypted field unique or indexed is a system-check error."""
    with isolate_apps("tests.piiapp"):

        class UniqueSecret(models.Model):  # noqa: DJ008 (a throwaway model for its field check)
            secret = EncryptedTextField(unique=True)

            class Meta:
                app_label = "piiapp"

        errors = UniqueSecret._meta.get_field("secret").check()
    assert [error.id for error in errors] == ["core.E110"]


def test_blind_index_field_refuses_unknown_source_and_normalizer():
    """A blind index must name a field of its model and a known normaliser."""
    with pytest.raises(ValueError, match="normalizer"):
        BlindIndexField(source="phone", normalizer="postcode")
    with isolate_apps("tests.piiapp"):

        class Orphan(models.Model):  # noqa: DJ008 (a throwaway model for its field check)
            phone_bidx = BlindIndexField(source="phone", normalizer="phone")

            class Meta:
                app_label = "piiapp"

        errors = Orphan._meta.get_field("phone_bidx").check()
    assert [error.id for error in errors] == ["core.E111"]


# --- Blind index -------------------------------------------------------------------------


@pytest.mark.django_db
def test_blind_index_finds_a_phone_typed_differently():
    """An exact search by phone matches whatever spacing and country prefix the user typed."""
    # given
    record = PiiRecord.objects.create(name="r", id_number=ID_NUMBER, phone=PHONE)
    PiiRecord.objects.create(name="other", id_number="110101199003075678", phone="13900000000")
    # when
    found = PiiRecord.objects.filter(phone_bidx=crypto.blind_index(kind="phone", value="+86 138-1234-5678"))
    # then
    assert list(found) == [record]


@pytest.mark.django_db
def test_blind_index_finds_an_id_number_with_lower_case_x_and_spaces():
    """An ID number matches regardless of spaces and the case of its check character."""
    # given
    record = PiiRecord.objects.create(name="r", id_number="11010119900307123X")
    # when
    found = PiiRecord.objects.filter(
        id_number_bidx=crypto.blind_index(kind="id_number", value=" 110101 19900307 123x ")
    )
    # then
    assert list(found) == [record]


@pytest.mark.django_db
def test_blind_index_follows_the_source_on_save_and_is_null_when_empty():
    """The index is recomputed on every save, and is NULL when the source is empty."""
    # given
    record = PiiRecord.objects.create(name="r", id_number=ID_NUMBER, phone="")
    assert record.phone_bidx is None
    # when
    record.phone = PHONE
    record.save()
    # then
    assert PiiRecord.objects.get(phone_bidx=crypto.blind_index(kind="phone", value=PHONE)) == record


def test_blind_index_separates_kinds():
    """The same characters under two kinds give unrelated indexes."""
    assert crypto.blind_index(kind="phone", value="13812345678") != crypto.blind_index(
        kind="generic", value="13812345678"
    )


def test_blind_index_depends_on_its_own_key(settings):
    """The blind index key, not the encryption keys or SECRET_KEY, keys the HMAC."""
    # given
    before = crypto.blind_index(kind="phone", value=PHONE)
    # when
    settings.PII_BLIND_INDEX_KEY = "another-blind-index-key"
    # then
    assert crypto.blind_index(kind="phone", value=PHONE) != before
    assert len(before) == 64


@pytest.mark.parametrize("value", [None, "", "   ", "--", "+"])
def test_blind_index_of_nothing_is_none(value):
    """No value (or nothing left after normalising) gives no index."""
    assert crypto.blind_index(kind="phone", value=value) is None


@pytest.mark.parametrize(
    ("kind", "raw", "normalized"),
    [
        ("phone", "+86 138-1234-5678", "13812345678"),
        ("phone", "0086 13812345678", "13812345678"),
        ("phone", "8613812345678", "13812345678"),
        ("phone", "(010) 6512-3456", "01065123456"),
        ("phone", "86123", "86123"),
        ("phone", "13812345678".translate(FULL_WIDTH_DIGITS), "13812345678"),
        ("id_number", " 11010119900307123x ", "11010119900307123X"),
        ("email", "  Zhang.San@Example.COM ", "zhang.san@example.com"),
        ("generic", "  some value ", "some value"),
    ],
)
def test_normalizers(kind, raw, normalized):
    """Each kind has one canonical form; full-width input from Chinese IMEs is folded first."""
    assert crypto.normalize(kind=kind, value=raw) == normalized


def test_unknown_blind_index_kind_raises():
    with pytest.raises(ValueError, match="Unknown blind index kind"):
        crypto.blind_index(kind="postcode", value="100000")


# --- Properties --------------------------------------------------------------------------

mobile_numbers = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
separators = st.sampled_from(["", " ", "-", "  ", " - "])


@given(plaintext=st.text())
def test_encrypt_decrypt_round_trips_any_text(plaintext):
    """Any text, Chinese and emoji included, decrypts to itself."""
    assert crypto.decrypt(stored=crypto.encrypt(plaintext=plaintext)) == plaintext


chinese_text = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF))


@given(plaintext=chinese_text)
def test_round_trip_of_chinese_text(plaintext):
    """CJK text (three UTF-8 bytes a character) decrypts to itself."""
    assert crypto.decrypt(stored=crypto.encrypt(plaintext=plaintext)) == plaintext


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(id_number=st.text(min_size=1), email=chinese_text)
def test_round_trip_through_the_database_for_any_text(id_number, email):
    """Whatever is saved comes back from a fresh query unchanged (NUL bytes included)."""
    # given
    record = PiiRecord.objects.create(name="r", id_number=id_number, email=email)
    # when
    fresh = PiiRecord.objects.get(pk=record.pk)
    # then
    assert (fresh.id_number, fresh.email) == (id_number, email)


@given(plaintext=st.text(min_size=8))
def test_ciphertext_never_contains_the_plaintext(plaintext):
    """The stored form reveals nothing of a value, not even as a substring."""
    stored = crypto.encrypt(plaintext=plaintext)
    assert plaintext not in stored


@given(plaintext=st.text())
def test_each_encryption_is_different(plaintext):
    """Equal plaintexts give different ciphertexts, which is why the blind index exists."""
    assert crypto.encrypt(plaintext=plaintext) != crypto.encrypt(plaintext=plaintext)


@given(
    number=mobile_numbers,
    prefix=st.sampled_from(["", "+86", "+86 ", "0086", "0086-", "86", "(+86) "]),
    separator=separators,
    full_width=st.booleans(),
)
def test_phone_blind_index_ignores_formatting(number, prefix, separator, full_width):
    """Country prefix, separators and full-width digits do not change a phone's index."""
    # given
    typed = prefix + separator.join([number[:3], number[3:7], number[7:]])
    if full_width:
        typed = typed.translate(FULL_WIDTH_DIGITS)
    # when / then
    assert crypto.blind_index(kind="phone", value=typed) == crypto.blind_index(kind="phone", value=number)


@given(
    digits=st.from_regex(r"[0-9]{17}", fullmatch=True),
    check=st.sampled_from("0123456789xX"),
    pad=separators.filter(lambda s: "-" not in s),
)
def test_id_number_blind_index_ignores_spaces_and_case(digits, check, pad):
    """Spaces anywhere and the case of the check character do not change an ID number's index."""
    canonical = digits + check.upper()
    typed = pad + digits[:6] + pad + digits[6:14] + pad + digits[14:] + check + pad
    assert crypto.blind_index(kind="id_number", value=typed) == crypto.blind_index(
        kind="id_number", value=canonical
    )


@given(email=st.emails(), pad=st.sampled_from(["", " ", "\t"]))
def test_email_blind_index_ignores_case_and_surrounding_space(email, pad):
    assert crypto.blind_index(kind="email", value=pad + email.upper() + pad) == crypto.blind_index(
        kind="email", value=email
    )
