"""Queue a churn scoring run on the Celery scoring queue and show its progress until it ends."""

from __future__ import annotations

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from lifecycle import services
from lifecycle.models import RunStatus, ScoringRun


class Command(BaseCommand):
    help = "Score every open customer as of a date with the active churn model, in chunks on the scoring queue."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default today)")
        parser.add_argument("--no-wait", action="store_true", help="queue the run and return")
        parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait for the run (default 3600)")

    def handle(self, *args, **options):
        try:
            run = services.scoring_run_queue(as_of=options["as_of"])
        except ApplicationError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Scoring run #{run.pk} queued (model v{run.model.version}, as of {run.as_of}).")
        if options["no_wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        last = None
        while time.monotonic() < deadline:
            run = ScoringRun.objects.get(pk=run.pk)
            state = (run.chunks_done, run.chunks_total, run.status)
            if state != last:
                self.stdout.write(f"  {run.chunks_done}/{run.chunks_total} chunks, "
                                  f"{run.customers_scored:,}/{run.customers_total:,} customers, {run.status}")
                last = state
            if run.status != RunStatus.RUNNING:
                break
            time.sleep(2)
        else:
            raise CommandError("Timed out waiting; the run goes on in the workers (see /lifecycle/models/).")
        self.stdout.write(self.style.SUCCESS(
            f"Run #{run.pk} {run.status}: {run.customers_scored:,} customers scored, {run.high_risk:,} at high risk."
        ))
