"""Run the classification pass now (everyone or some customers), with progress, then optionally recommendations."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.errors import ApplicationError
from segmentation import services


class Command(BaseCommand):
    help = "Classify customers (value, behaviour, risk, tier, CLV) in one set-based pass."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customer", dest="customer_ids", type=int, action="append", metavar="ID",
                            help="Classify only this customer id (repeatable). Default: every customer.")
        parser.add_argument("--touched", action="store_true",
                            help="Only customers with transactions newer than the last finished run.")
        parser.add_argument("--as-of", dest="as_of", metavar="ISO_DATETIME",
                            help="Evaluate as of this time (local time zone when none given). Default: now.")
        parser.add_argument("--recommendations", action="store_true",
                            help="Recompute the product recommendations afterwards.")

    def handle(self, *args, customer_ids=None, touched=False, as_of=None, recommendations=False, **options):
        as_of_at = None
        if as_of:
            try:
                as_of_at = datetime.fromisoformat(as_of)
            except ValueError as exc:
                raise CommandError(f"--as-of {as_of!r} is not an ISO 8601 date-time.") from exc
            if timezone.is_naive(as_of_at):
                as_of_at = timezone.make_aware(as_of_at)

        def progress(run) -> None:
            self.stdout.write(f"  [{run.steps_done}/{run.steps_total}] {run.step}: "
                              f"{run.customers_classified} classified, {run.customers_changed} changed")

        try:
            if touched:
                result = services.segmentation_run_touched(as_of=as_of_at)
                if result is None:
                    self.stdout.write("No customer has new transactions since the last run.")
                    return
            else:
                result = services.segmentation_run(as_of=as_of_at, customer_ids=customer_ids, progress=progress)
            self.stdout.write(
                f"Run #{result.run_id}, policy v{result.policy_version}: {result.customers_classified} customers "
                f"classified, {result.customers_changed} changed class or tier, {result.seconds:.1f} s."
            )
            if recommendations:
                run = services.recommendation_run(
                    customer_ids=customer_ids, as_of=timezone.localdate(as_of_at) if as_of_at else None
                )
                self.stdout.write(f"Recommendations: {run.recommendations} for {run.customers} customers.")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS("Segmentation finished."))
