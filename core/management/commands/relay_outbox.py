"""Publish pending outbox messages by hand: `manage.py relay_outbox` (exit status 1 if any are left)."""

from django.core.management.base import BaseCommand, CommandError

from core.models import OutboxMessage
from core.outbox import outbox_relay


class Command(BaseCommand):
    help = "Publish every due pending outbox message to the broker, in batches, and print the counts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Messages per pass (default 500).")

    def handle(self, *args, batch_size: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        total_sent = 0
        while True:
            sent = outbox_relay(limit=batch_size)
            total_sent += sent
            # A short pass means nothing is left, or the broker failed and the rest must wait.
            if sent < batch_size:
                break
        pending = OutboxMessage.objects.due()
        pending_count = pending.count()
        summary = f"Sent {total_sent} messages; {pending_count} due messages still pending."
        if pending_count:
            failed = pending.exclude(last_error="").order_by("-id")
            last_error = failed.values_list("last_error", flat=True).first()
            raise CommandError(f"{summary} Last broker error: {last_error or 'none recorded'}")
        self.stdout.write(self.style.SUCCESS(summary))
