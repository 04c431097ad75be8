"""Run the data-quality pass now and print what it opened, resolved and left open, by rule."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.errors import ApplicationError
from customers import services
from customers.models import DataQualityRule


class Command(BaseCommand):
    help = "Check customer information (completeness, timeliness, accuracy) and open or resolve issues."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customer", dest="customer_ids", type=int, action="append", metavar="ID",
            help="Check only this customer id (repeatable). Default: every active customer.",
        )
        parser.add_argument(
            "--as-of", dest="as_of", metavar="ISO_DATETIME",
            help="Evaluate as of this time (ISO 8601; local time zone when none given). Default: now.",
        )

    def handle(self, *args, customer_ids: list[int] | None = None, as_of: str | None = None, **options):
        as_of_at = None
        if as_of:
            try:
                as_of_at = datetime.fromisoformat(as_of)
            except ValueError as exc:
                raise CommandError(f"--as-of {as_of!r} is not an ISO 8601 date-time.") from exc
            if timezone.is_naive(as_of_at):
                as_of_at = timezone.make_aware(as_of_at)
        try:
            result = services.data_quality_run(as_of=as_of_at, customer_ids=customer_ids)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

        self.stdout.write(
            f"Policy v{result.policy_version}: {result.customers_scored} customers checked; opened {result.opened}, "
            f"resolved {result.resolved}, open {result.still_open}."
        )
        self.stdout.write(f"{'rule':<20} {'opened':>8} {'resolved':>8} {'open':>8}")
        for rule in DataQualityRule:
            self.stdout.write(
                f"{rule.value:<20} {result.opened_by_rule.get(rule.value, 0):>8} "
                f"{result.resolved_by_rule.get(rule.value, 0):>8} {result.open_by_rule.get(rule.value, 0):>8}"
            )
        self.stdout.write(self.style.SUCCESS("Data-quality check finished."))
