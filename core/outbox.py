"""Safe task queueing: a transactional outbox for publishing, a ledger for running once.

Publishing: ``outbox_enqueue`` saves the task call as a row in the caller's transaction, so
work is queued if and only if the business change commits, and a request still succeeds while
the broker is down. Right after commit the row is published; if the broker is down it stays
pending and the beat task ``core.outbox_relay_task`` publishes it later.

Running: delivery is at least once (a crash between publishing and marking the row sent
publishes it again; with acks_late a worker lost mid-task means a redelivery), always with the
same task id. ``task_run_once`` makes a task's database work happen once per task id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from functools import partial

import celery
import kombu.exceptions
import redis.exceptions
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import OutboxMessage, TaskExecution

logger = logging.getLogger(__name__)

# What a publish raises while the broker is down or unreachable. kombu wraps most of them in
# its OperationalError; the others can escape from the redis client or the socket.
BROKER_ERRORS = (kombu.exceptions.OperationalError, redis.exceptions.RedisError, OSError)
LAST_ERROR_MAX_LENGTH = OutboxMessage._meta.get_field("last_error").max_length
# After a failed publish, this process stops trying right after commit for a while (the beat
# relay catches up), so a request queuing several messages while the broker is down waits for
# one connection timeout, not one per message.
AFTER_COMMIT_BACKOFF_SECONDS = 30.0
_broker_failed_at: float | None = None


def outbox_enqueue(*, task_name: str, kwargs: dict, queue: str = "default") -> OutboxMessage:
    """Queue the named Celery task, to be published once the caller's transaction commits.

    Call inside the transaction that makes the business change (a service's
    ``transaction.atomic``): the message commits or rolls back with it. ``kwargs`` are ids and
    ISO dates; anything JSON cannot hold raises TypeError here, not in a worker.
    """
    message = OutboxMessage.objects.create(task_name=task_name, kwargs=kwargs, queue=queue)
    # robust: a failure here is logged and must not turn a committed request into an error.
    transaction.on_commit(partial(_relay_after_commit, message.pk), robust=True)
    return message


def outbox_relay(*, limit: int = 500, message_ids: Iterable[int] | None = None) -> int:
    """Publish due pending messages (oldest first) and mark them sent; return how many were sent.

    Call outside a transaction (after commit, beat, a command) so the data a task reads is
    committed before it runs. Stops the pass at the first broker error, leaving that message
    (with the error) and the rest pending. Messages another relay has locked are skipped.
    """
    app = celery.current_app
    sent: list[OutboxMessage] = []
    with transaction.atomic():
        messages = OutboxMessage.objects.due().order_by("id").select_for_update(skip_locked=True)
        if message_ids is not None:
            messages = messages.filter(pk__in=list(message_ids))
        for message in messages[:limit]:
            message.attempts += 1
            try:
                # retry=False: no publish retries while a request waits. kombu still retries
                # the connection until CELERY_BROKER_CONNECTION_TIMEOUT (2 s) runs out, so
                # with the broker down this fails in about that long, and the pass stops.
                app.send_task(
                    message.task_name, kwargs=message.kwargs, task_id=str(message.uuid),
                    queue=message.queue, retry=False,
                )
            except BROKER_ERRORS as exc:
                global _broker_failed_at
                _broker_failed_at = time.monotonic()
                message.last_error = f"{type(exc).__name__}: {exc}"[:LAST_ERROR_MAX_LENGTH]
                message.save(update_fields=["attempts", "last_error"])
                logger.warning(
                    "Outbox relay stopped, broker unavailable (%s); message %s stays pending, %d sent",
                    type(exc).__name__, message.pk, len(sent),
                )
                break
            message.status = OutboxMessage.Status.SENT
            message.sent_at = timezone.now()
            sent.append(message)
        OutboxMessage.objects.bulk_update(sent, ["status", "sent_at", "attempts"])
    return len(sent)


def task_run_once(*, task_id: str, task_name: str, work: Callable[[], object]) -> bool:
    """Run ``work`` unless this task id already ran; return whether it ran now.

    ``work`` and the ledger row commit together, so a task whose work failed runs again on
    retry, and a redelivered one does not. Only database work is covered: a side effect
    outside the database (an e-mail) can still happen twice if the commit fails after it.
    Call from a bound task: ``task_run_once(task_id=self.request.id, task_name=self.name, ...)``.
    """
    with transaction.atomic():
        try:
            # A concurrent delivery of the same id waits here for the first to finish, then
            # fails on the unique task_id (the first committed) or inserts (it rolled back).
            with transaction.atomic():
                execution = TaskExecution.objects.create(task_id=task_id, task_name=task_name)
        except IntegrityError:
            logger.info("Task %s %s already ran; skipping the redelivery", task_name, task_id)
            return False
        work()
        execution.finished_at = timezone.now()
        execution.save(update_fields=["finished_at"])
    return True


def _relay_after_commit(message_id: int) -> None:
    if _broker_failed_at is not None and time.monotonic() - _broker_failed_at < AFTER_COMMIT_BACKOFF_SECONDS:
        logger.info("Broker failed recently; message %s waits for the beat relay", message_id)
        return
    outbox_relay(message_ids=[message_id])
