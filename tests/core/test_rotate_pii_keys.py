"""manage.py rotate_pii_keys: re-encryption under a new primary key, resumability, retiring keys."""

import threading
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from core import crypto
from core.management.commands import rotate_pii_keys
from tests.piiapp.models import PiiRecord

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def run(*args: str, by_name: bool = True) -> str:
    stdout = StringIO()
    # A command instance is found without the app registry, which available_apps narrows.
    call_command("rotate_pii_keys" if by_name else rotate_pii_keys.Command(), *args, stdout=stdout)
    return stdout.getvalue()


def stored_key_ids(*, column: str) -> list[str | None]:
    """Return the key id of each row's stored value in pk order, read raw (None for NULL/"")."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM piiapp_piirecord ORDER BY id")
        return [value.partition("$")[0] if value else None for (value,) in cursor.fetchall()]


def plaintexts() -> list[tuple]:
    return list(PiiRecord.objects.order_by("pk").values_list("id_number", "phone", "email"))


@pytest.fixture
def records_on_old_key(settings):
    """Five records written while 'old' was the only key, then 'new' put first."""
    settings.PII_ENCRYPTION_KEYS = f"old:{OLD_KEY}"
    for n in range(5):
        PiiRecord.objects.create(
            name=f"r{n}",
            id_number=f"11010119900307{n:04d}",
            phone=f"1381234{n:04d}",
            # NULL and "" rows have nothing to rotate and must be left alone.
            email=None if n == 0 else ("" if n == 1 else f"用户{n}@example.com"),
        )
    expected = plaintexts()
    settings.PII_ENCRYPTION_KEYS = f"new:{NEW_KEY},old:{OLD_KEY}"
    return expected


def test_rotation_moves_every_value_to_the_new_key_without_loss(records_on_old_key):
    """After rotation all values read back equal and none is left on the old key."""
    # when
    output = run()
    # then
    assert plaintexts() == records_on_old_key
    assert set(stored_key_ids(column="id_number")) == {"new"}
    assert set(stored_key_ids(column="phone")) == {"new"}
    assert stored_key_ids(column="email") == [None, None, "new", "new", "new"]
    assert "piiapp.PiiRecord.id_number: 5/5 re-encrypted" in output
    assert "piiapp.PiiRecord.email: 3/3 re-encrypted" in output


def test_rotated_values_are_readable_once_the_old_key_is_removed(records_on_old_key, settings):
    """The point of rotating: the old key can go."""
    # given
    run()
    # when
    settings.PII_ENCRYPTION_KEYS = f"new:{NEW_KEY}"
    # then
    assert plaintexts() == records_on_old_key


def test_blind_index_still_finds_rows_after_rotation(records_on_old_key):
    """Rotation touches ciphertext only; the blind index keeps working."""
    # when
    run()
    # then
    found = PiiRecord.objects.get(phone_bidx=crypto.blind_index(kind="phone", value="+86 138 1234 0003"))
    assert found.name == "r3"


def test_check_retire_fails_before_rotation_and_succeeds_after(records_on_old_key):
    """An old key cannot be retired while any value uses it."""
    # when / then: before rotation
    with pytest.raises(CommandError, match="13 stored value"):
        run("--check-retire", "old")
    # when: rotate
    run()
    # then
    assert "safe to retire" in run("--check-retire", "old")


def test_check_retire_refuses_the_primary_key(records_on_old_key):
    with pytest.raises(CommandError, match="primary key"):
        run("--check-retire", "new")


def test_check_retire_changes_nothing(records_on_old_key):
    # when
    with pytest.raises(CommandError):
        run("--check-retire", "old")
    # then
    assert set(stored_key_ids(column="id_number")) == {"old"}


def test_rotation_is_resumable_after_stopping_early(records_on_old_key):
    """A run cut short leaves committed batches rotated, and a rerun finishes the rest."""
    # when: one batch of two rows only
    output = run("--batch-size", "2", "--max-batches", "1")
    # then
    assert stored_key_ids(column="id_number") == ["new", "new", "old", "old", "old"]
    assert "rerun to continue" in output
    # when: rerun
    run("--batch-size", "2")
    # then
    assert set(stored_key_ids(column="id_number")) == {"new"}
    assert set(stored_key_ids(column="phone")) == {"new"}
    assert plaintexts() == records_on_old_key


def test_rotation_resumes_after_a_failing_batch(records_on_old_key):
    """A batch that fails writes nothing, earlier batches stay rotated, and a rerun continues."""
    # given: the last row's id_number is corrupted
    last = PiiRecord.objects.order_by("pk").last()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE piiapp_piirecord SET id_number = 'old$corrupted' WHERE id = %s", [last.pk])
    # when
    with pytest.raises(CommandError, match=f"pk={last.pk}"):
        run("--batch-size", "2")
    # then
    assert stored_key_ids(column="id_number") == ["new", "new", "new", "new", "old"]
    # when: the bad value is repaired and the command rerun
    PiiRecord.objects.filter(pk=last.pk).update(id_number="110101199003070004")
    run("--batch-size", "2")
    # then
    assert plaintexts() == records_on_old_key
    assert set(stored_key_ids(column="id_number")) == {"new"}


# available_apps: the flush after a transactional test then truncates only this app's table.
@pytest.mark.django_db(transaction=True, available_apps=["tests.piiapp"])
def test_rows_locked_by_another_transaction_are_skipped_then_rotated_on_rerun(records_on_old_key):
    """A row held by an application transaction does not block the run; a rerun picks it up."""
    # given: another connection holds a row lock on the first record
    first = PiiRecord.objects.order_by("pk").first()
    locked, release = threading.Event(), threading.Event()

    def hold_row_lock() -> None:
        try:
            with transaction.atomic():
                list(PiiRecord.objects.select_for_update().filter(pk=first.pk).values_list("pk"))
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_row_lock)
    holder.start()
    assert locked.wait(timeout=30)
    # when
    try:
        output = run(by_name=False)
    finally:
        release.set()
        holder.join()
    # then
    assert stored_key_ids(column="id_number") == ["old", "new", "new", "new", "new"]
    assert "2 value(s) remain on other keys" in output
    assert "locked" in output
    # when: rerun once the lock is gone
    run(by_name=False)
    # then
    assert set(stored_key_ids(column="id_number")) == {"new"}
    assert plaintexts() == records_on_old_key


def test_rerun_after_completion_does_nothing(records_on_old_key):
    # given
    run()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, id_number, phone, email FROM piiapp_piirecord ORDER BY id")
        stored_before = cursor.fetchall()
    assert len(stored_before) == 5
    # when
    output = run()
    # then: not one stored ciphertext changed (a re-encryption would change the token even under the same key)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, id_number, phone, email FROM piiapp_piirecord ORDER BY id")
        assert cursor.fetchall() == stored_before
    assert "Re-encrypted 0 value(s)" in output


def test_unknown_key_ids_stop_the_command(settings):
    """Values under a key missing from the settings are reported by count and nothing is rotated."""
    # given
    settings.PII_ENCRYPTION_KEYS = f"gone:{Fernet.generate_key().decode()}"
    PiiRecord.objects.create(name="r", id_number="110101199003071234", phone="13812345678")
    settings.PII_ENCRYPTION_KEYS = f"new:{NEW_KEY},old:{OLD_KEY}"
    # when
    with pytest.raises(CommandError) as excinfo:
        run()
    # then
    assert "piiapp.PiiRecord.id_number: 1 value(s) (key ids ['gone'])" in str(excinfo.value)
    assert set(stored_key_ids(column="id_number")) == {"gone"}
    with pytest.raises(CommandError, match="not configured"):
        run("--check-retire", "old")


def test_malformed_values_are_counted_but_not_echoed(records_on_old_key):
    """A value with no key id (say, legacy plaintext) is reported without its content."""
    # given
    first = PiiRecord.objects.order_by("pk").first()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE piiapp_piirecord SET phone = '13812345678' WHERE id = %s", [first.pk])
    # when
    with pytest.raises(CommandError) as excinfo:
        run()
    # then
    assert "piiapp.PiiRecord.phone: 1 value(s) (no key id)" in str(excinfo.value)
    assert "13812345678" not in str(excinfo.value)


def test_quiet_run_prints_nothing(records_on_old_key):
    """-v 0 silences progress; the work is still done."""
    # when
    output = run("-v", "0")
    # then
    assert output == ""
    assert set(stored_key_ids(column="id_number")) == {"new"}


def test_progress_reports_each_batch(records_on_old_key):
    # when
    output = run("--batch-size", "2")
    # then
    assert [line for line in output.splitlines() if ".id_number:" in line] == [
        "piiapp.PiiRecord.id_number: 2/5 re-encrypted",
        "piiapp.PiiRecord.id_number: 4/5 re-encrypted",
        "piiapp.PiiRecord.id_number: 5/5 re-encrypted",
    ]


def test_output_never_contains_plaintext(records_on_old_key):
    # when
    output = run("-v", "3")
    # then
    for id_number, phone, email in records_on_old_key:
        assert id_number not in output
        assert phone not in output
        assert not email or email not in output


@pytest.mark.parametrize("args", [("--batch-size", "0"), ("--max-batches", "0")])
def test_bad_limits_are_refused(args):
    with pytest.raises(CommandError):
        run(*args)
