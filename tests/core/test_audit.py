"""The audit log: one write path, a hash chain that shows tampering, a table kept append-only."""

import threading
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path

from accounts import permissions
from core import context
from core.audit import AuditAction, _event_hash, audit_chain_verify, audit_record, audit_seal
from core.models import GENESIS_HASH, AuditEvent
from tests.accounts.factories import BranchFactory


def audited_view(request: HttpRequest) -> JsonResponse:
    event = audit_record(actor=request.user, action="test.page_viewed")
    return JsonResponse({"event_id": event.pk})


# URLconf for the request tests (@pytest.mark.urls(__name__)): the project's full middleware
# stack in front of one view that writes an audit event.
urlpatterns = [path("audited/", audited_view)]


class ApiKeyActor:
    """Stands in for an API client: anything with an ``audit_label``."""

    audit_label = "api-key:core-banking-import"


def record_events(count: int) -> list[AuditEvent]:
    """Record ``count`` events and seal them, as happens after a commit (the test never commits)."""
    events = [audit_record(actor=None, action="test.event", detail={"n": n}) for n in range(count)]
    audit_seal()
    for event in events:
        event.refresh_from_db()
    return events


@pytest.fixture
def empty_audit_log(db):
    """Start from an empty log even if an earlier test committed audit rows.

    They are removed inside this test's transaction, so its rollback brings them back.
    """
    if AuditEvent.objects.exists():
        with append_only_triggers_disabled():
            AuditEvent.objects.all().delete()


@contextmanager
def append_only_triggers_disabled():
    """Act as a database superuser who switches the triggers off to tamper with the table.

    ALTER TABLE is transactional in PostgreSQL, so the test's rollback restores the triggers
    even if the test fails halfway.
    """
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


# --- Recording -----------------------------------------------------------------------------


@pytest.mark.usefixtures("empty_audit_log")
def test_record_for_a_user_stores_id_username_and_target(make_user):
    # given
    user = make_user(username="rm_zhao")
    branch = BranchFactory(code="B0202")
    # when
    event = audit_record(actor=user, action=AuditAction.EXPORT, target=branch, detail={"rows": 12})
    # then
    event.refresh_from_db()
    assert (event.actor_id, event.actor_label) == (user.pk, "rm_zhao")
    assert (event.action, event.target_type) == ("data.export", "accounts.branch")
    assert event.target_id == str(branch.pk)
    assert event.detail == {"rows": 12}


@pytest.mark.usefixtures("empty_audit_log")
@pytest.mark.parametrize(
    ("actor", "label"),
    [(None, "system"), (AnonymousUser(), "anonymous"), (ApiKeyActor(), "api-key:core-banking-import")],
)
def test_record_labels_actors_that_are_not_users(actor, label):
    event = audit_record(actor=actor, action=AuditAction.LOGIN_FAILED)

    event.refresh_from_db()
    assert (event.actor_id, event.actor_label) == (None, label)


@pytest.mark.usefixtures("empty_audit_log")
def test_first_event_starts_the_chain_and_each_next_one_links_to_it():
    # when
    first, second, third = record_events(3)
    # then
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3


@pytest.mark.usefixtures("empty_audit_log")
def test_a_row_is_written_unsealed_and_sealed_when_its_transaction_commits(django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = audit_record(actor=None, action="test.event")
        audit_record(actor=None, action="test.event")
    # then: pending until the commit; one seal is queued however many rows the transaction wrote
    event.refresh_from_db()
    assert (event.chain_seq, event.prev_hash, event.hash) == (None, "", "")
    assert audit_chain_verify().pending_rows == 2
    assert len(callbacks) == 1
    # when the transaction commits
    callbacks[0]()
    # then
    event.refresh_from_db()
    assert event.chain_seq is not None and event.prev_hash == GENESIS_HASH
    report = audit_chain_verify()
    assert (report.ok, report.rows_checked, report.pending_rows) == (True, 2, 0)


@pytest.mark.usefixtures("empty_audit_log")
def test_verify_reports_pending_rows_without_failing():
    # given
    record_events(3)
    audit_record(actor=None, action="test.event")
    # when
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    # then
    assert "OK: 3 rows verified, 1 committed row(s) not sealed yet" in out.getvalue()


@pytest.mark.usefixtures("empty_audit_log")
def test_database_refuses_to_reseal_a_sealed_row_or_to_change_a_row_while_sealing_it():
    # given
    sealed = record_events(1)[0]
    pending = audit_record(actor=None, action="test.event")
    # when / then
    with pytest.raises(DatabaseError, match="append-only: UPDATE"), transaction.atomic():
        AuditEvent.objects.filter(pk=sealed.pk).update(chain_seq=99, hash="f" * 64)
    with pytest.raises(DatabaseError, match="append-only: UPDATE"), transaction.atomic():
        AuditEvent.objects.filter(pk=pending.pk).update(chain_seq=99, action="test.changed")
    # and nothing changed
    sealed_again = AuditEvent.objects.get(pk=sealed.pk)
    assert (sealed_again.chain_seq, sealed_again.hash) == (sealed.chain_seq, sealed.hash)
    assert AuditEvent.objects.get(pk=pending.pk).chain_seq is None


@pytest.mark.usefixtures("empty_audit_log")
def test_record_refuses_an_unsaved_target():
    with pytest.raises(ValueError, match="must be saved"):
        audit_record(actor=None, action="test.event", target=BranchFactory.build())

    assert not AuditEvent.objects.exists()


@pytest.mark.usefixtures("empty_audit_log")
def test_outside_a_request_no_ip_or_request_id_is_stored():
    event = audit_record(actor=None, action="test.event")

    event.refresh_from_db()
    assert (event.ip_address, event.request_id) == (None, "")


@pytest.mark.usefixtures("empty_audit_log")
def test_values_the_database_rewrites_still_verify():
    """Detail values jsonb rewrites, and an IPv6 address in a long spelling, are hashed as stored."""
    # given
    token = context.bind(context.RequestContext(request_id="req-ipv6-01", ip_address="2001:0DB8:0000::0001"))
    try:
        # when
        event = audit_record(
            actor=None, action="test.event",
            detail={"amount": Decimal("12.50"), "ratio": 0.1, "huge": 1e20, "as_of": date(2030, 3, 10),
                    "ids": (3, 1)},
        )
    finally:
        context.reset(token)
    audit_seal()
    # then
    event.refresh_from_db()
    assert event.ip_address == "2001:db8::1"
    assert event.detail == {
        "amount": "12.50", "ratio": 0.1, "huge": 10**20, "as_of": "2030-03-10", "ids": [3, 1],
    }
    assert audit_chain_verify().ok


@pytest.mark.usefixtures("empty_audit_log")
def test_an_address_that_is_not_an_ip_is_not_stored():
    """A misconfigured proxy may forward "unknown"; the event is still written, without an address."""
    token = context.bind(context.RequestContext(request_id="req-bad-ip-1", ip_address="unknown"))
    try:
        event = audit_record(actor=None, action="test.event")
    finally:
        context.reset(token)

    event.refresh_from_db()
    assert (event.ip_address, event.request_id) == (None, "req-bad-ip-1")


# --- Through a real request ------------------------------------------------------------------


@pytest.mark.usefixtures("empty_audit_log")
@pytest.mark.urls(__name__)
def test_request_ip_and_request_id_are_recorded_for_the_signed_in_user(client, make_user):
    # given
    user = make_user(username="rm_zhao")
    client.force_login(user)
    # when
    response = client.get("/audited/", HTTP_X_REQUEST_ID="req-0123456789", REMOTE_ADDR="203.0.113.9")
    # then
    assert response.status_code == 200
    event = AuditEvent.objects.get(pk=response.json()["event_id"])
    assert (event.actor_id, event.actor_label) == (user.pk, "rm_zhao")
    assert (event.ip_address, event.request_id) == ("203.0.113.9", "req-0123456789")


@pytest.mark.usefixtures("empty_audit_log")
@pytest.mark.urls(__name__)
def test_request_by_an_anonymous_visitor_is_recorded_as_anonymous(client):
    # when
    response = client.get("/audited/", REMOTE_ADDR="198.51.100.4")
    # then
    event = AuditEvent.objects.get(pk=response.json()["event_id"])
    assert (event.actor_id, event.actor_label, event.ip_address) == (None, "anonymous", "198.51.100.4")
    assert event.request_id == response["X-Request-ID"]


# --- Verifying the chain ---------------------------------------------------------------------


@pytest.mark.usefixtures("empty_audit_log")
def test_verify_accepts_an_untouched_chain():
    # given
    record_events(25)
    # when
    report = audit_chain_verify()
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    # then
    assert report.ok
    assert report.rows_checked == 25
    assert "OK: 25 rows verified" in out.getvalue()


@pytest.mark.usefixtures("empty_audit_log")
def test_verify_accepts_an_empty_log():
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)

    assert "OK: 0 rows verified" in out.getvalue()


@pytest.mark.usefixtures("empty_audit_log")
def test_verify_reports_the_edited_row():
    # given
    events = record_events(5)
    edited = events[2]
    with append_only_triggers_disabled():
        AuditEvent.objects.filter(pk=edited.pk).update(detail={"n": 99})
    # when
    report = audit_chain_verify()
    # then
    assert not report.ok
    assert (report.broken_row_id, report.rows_checked) == (edited.pk, 2)
    assert report.problem == f"row {edited.pk} was edited: its hash does not match its contents"
    with pytest.raises(CommandError, match=f"row {edited.pk} was edited"):
        call_command("verify_audit_chain")


@pytest.mark.usefixtures("empty_audit_log")
def test_verify_reports_a_row_edited_together_with_its_hash_at_the_next_row():
    """Rehashing an edited row does not help: the next row no longer follows it."""
    # given
    events = record_events(4)
    edited, following = events[1], events[2]
    with append_only_triggers_disabled():
        edited.actor_label = "someone-else"
        # the tamperer knows the algorithm
        edited.hash = _event_hash(edited)
        edited.save(update_fields=["actor_label", "hash"])
    # when
    report = audit_chain_verify()
    # then
    assert (report.broken_row_id, report.previous_row_id) == (following.pk, edited.pk)


@pytest.mark.usefixtures("empty_audit_log")
def test_verify_reports_the_row_after_a_deleted_one():
    # given
    events = record_events(5)
    with append_only_triggers_disabled():
        AuditEvent.objects.filter(pk=events[2].pk).delete()
    # when
    report = audit_chain_verify()
    # then
    assert (report.broken_row_id, report.previous_row_id) == (events[3].pk, events[1].pk)
    assert report.rows_checked == 2
    expected = (
        f"row {events[3].pk} does not follow row {events[1].pk}: "
        "a row between them was deleted or the chain was altered"
    )
    assert report.problem == expected
    with pytest.raises(CommandError, match=expected):
        call_command("verify_audit_chain")


@pytest.mark.usefixtures("empty_audit_log")
def test_verify_reports_deleted_first_rows():
    # given
    events = record_events(3)
    with append_only_triggers_disabled():
        AuditEvent.objects.filter(pk=events[0].pk).delete()
    # when
    report = audit_chain_verify()
    # then
    assert report.broken_row_id == events[1].pk
    assert "first row but does not start the chain" in report.problem


# --- The database keeps the table append-only ----------------------------------------------


@pytest.mark.usefixtures("empty_audit_log")
def test_database_refuses_update_through_the_orm():
    # given
    event = audit_record(actor=None, action="test.event", detail={"n": 1})
    # when / then
    with pytest.raises(DatabaseError, match="append-only: UPDATE"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="test.changed")
    with pytest.raises(DatabaseError, match="append-only: UPDATE"), transaction.atomic():
        event.detail = {"n": 2}
        event.save()
    # and nothing changed
    event.refresh_from_db()
    assert (event.action, event.detail) == ("test.event", {"n": 1})


@pytest.mark.usefixtures("empty_audit_log")
def test_database_refuses_delete_and_truncate():
    # given the production trigger (the test database disables the TRUNCATE one for flushes;
    # this ALTER is rolled back with the test's transaction)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_no_truncate")
    event = audit_record(actor=None, action="test.event")
    # when / then
    with pytest.raises(DatabaseError, match="append-only: DELETE"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError, match="append-only: DELETE"), transaction.atomic():
        AuditEvent.objects.get(pk=event.pk).delete()
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("TRUNCATE core_auditevent")
    # and nothing changed
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [event.pk]


# --- Concurrent writers --------------------------------------------------------------------


def on_own_connection(work):
    """Run ``work`` in a thread with its own database connection, in autocommit; return its result.

    Rows written this way are committed, outside the test's transaction.
    """
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # re-raised in the calling thread
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


@pytest.mark.django_db
def test_concurrent_writers_build_one_unbroken_chain():
    """Writers in parallel transactions never chain from the same row (the advisory lock).

    Everything runs on other connections, which commit; the test's own connection stays off
    the table so it holds no lock the cleanup would wait for.
    """
    writer_count, events_per_writer = 8, 5
    start_together = threading.Barrier(writer_count)
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            start_together.wait()
            for n in range(events_per_writer):
                with transaction.atomic():
                    audit_record(actor=None, action="test.concurrent", detail={"writer": writer, "n": n})
        except BaseException as exc:  # asserted by the test
            failures.append(exc)
        finally:
            connection.close()

    def check():
        return audit_chain_verify(), list(AuditEvent.objects.values_list("prev_hash", flat=True))

    def remove_committed_rows() -> None:
        # As a superuser would, so later tests start from an empty log.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
            cursor.execute("DELETE FROM core_auditevent WHERE action = 'test.concurrent'")
            cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")
            # This commits: leave the TRUNCATE trigger off as tests/conftest.py set it for flushes.
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_truncate")

    rows_before = on_own_connection(AuditEvent.objects.count)
    try:
        # when
        writers = [threading.Thread(target=write, args=(w,)) for w in range(writer_count)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=60)
        # then: each commit sealed what it could; a last seal picks up what a busy sealer left
        assert not failures
        on_own_connection(audit_seal)
        report, prev_hashes = on_own_connection(check)
        assert report.ok, report.problem
        assert report.rows_checked == rows_before + writer_count * events_per_writer
        assert report.pending_rows == 0
        assert len(set(prev_hashes)) == len(prev_hashes)
    finally:
        on_own_connection(remove_committed_rows)


@pytest.mark.django_db
def test_an_open_audited_transaction_does_not_hold_up_another_one():
    """No global lock: a second writer commits (and seals) while the first one's transaction is open."""
    first_recorded, second_done = threading.Event(), threading.Event()
    outcome: dict = {}

    def first_writer() -> None:
        try:
            with transaction.atomic():
                audit_record(actor=None, action="test.concurrent", detail={"writer": "first"})
                first_recorded.set()
                outcome["second_finished_while_first_open"] = second_done.wait(timeout=30)
        finally:
            connection.close()

    def second_writer() -> None:
        first_recorded.wait(timeout=30)
        with transaction.atomic():
            audit_record(actor=None, action="test.concurrent", detail={"writer": "second"})
        second_done.set()

    def state():
        return audit_chain_verify(), list(
            AuditEvent.objects.filter(action="test.concurrent").order_by("chain_seq")
            .values_list("detail__writer", flat=True))

    first = threading.Thread(target=first_writer)
    first.start()
    try:
        on_own_connection(second_writer)
        first.join(timeout=60)
        assert outcome["second_finished_while_first_open"]
        on_own_connection(audit_seal)
        report, writers_in_chain_order = on_own_connection(state)
        # sealed in commit order, though the first writer took the lower id
        assert report.ok and report.pending_rows == 0
        assert writers_in_chain_order == ["second", "first"]
    finally:
        on_own_connection(_remove_committed_test_rows)


def _remove_committed_test_rows() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM core_auditevent WHERE action = 'test.concurrent'")
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_truncate")


# --- Admin -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("empty_audit_log")
@pytest.mark.parametrize("role", ["rm", "branch_manager", "complaint_desk", "auditor", "admin"])
def test_admin_shows_the_log_to_exactly_the_roles_accounts_allows(client_as, role):
    """core cannot import accounts.permissions; its own check must agree with can_view_audit_log."""
    # given
    client = client_as(role, is_staff=True)
    audit_record(actor=client.user, action="test.event")
    allowed = permissions.can_view_audit_log(client.user)
    # when
    listing = client.get("/admin/core/auditevent/")
    # then
    assert listing.status_code == (200 if allowed else 403)
    if allowed:
        assert b"test.event" in listing.content


@pytest.mark.usefixtures("empty_audit_log")
def test_admin_cannot_add_change_or_delete_events(client_as):
    # given
    client = client_as("admin", is_staff=True)
    event = audit_record(actor=client.user, action="test.event")
    # when
    add = client.get("/admin/core/auditevent/add/")
    delete = client.post(f"/admin/core/auditevent/{event.pk}/delete/", {"post": "yes"})
    change = client.post(f"/admin/core/auditevent/{event.pk}/change/", {"action": "test.changed"})
    # then
    assert (add.status_code, delete.status_code) == (403, 403)
    assert change.status_code == 403
    event.refresh_from_db()
    assert event.action == "test.event"
