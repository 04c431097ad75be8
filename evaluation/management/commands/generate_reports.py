"""manage.py generate_reports --kind monthly|quarterly|annual --period 2026-11|2026-Q4|2026"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.errors import ApplicationError
from evaluation import services
from evaluation.models import ReportKind
from evaluation.periods import period_parse


class Command(BaseCommand):
    help = "Build the bank's and every branch's report of one period (what beat runs); existing ones are kept."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=ReportKind.values)
        parser.add_argument("--period", required=True, help="2026-11 (monthly), 2026-Q4 (quarterly), 2026 (annual)")
        parser.add_argument("--inline", action="store_true",
                            help="Generate here instead of queueing on the Celery workers.")

    def handle(self, *args, kind: str, period: str, inline: bool, **options):
        try:
            parsed = period_parse(period)
            services.report_period_for(kind=kind, period=parsed)
        except (ValueError, ApplicationError) as error:
            raise CommandError(str(error)) from error
        if inline:
            report_ids = []
            for branch_id in services.report_scopes():
                report = services.report_claim(kind=kind, period=parsed, branch_id=branch_id)
                if report is not None:
                    report_ids.append(services.report_generate(report_id=report.pk).pk)
        else:
            with transaction.atomic():
                report_ids = services.report_schedule(kind=kind, period=parsed)
        skipped = "" if report_ids else " (every scope had its report already)"
        self.stdout.write(f"{kind} {parsed.label}: {len(report_ids)} report(s) {'generated' if inline else 'queued'}"
                          f"{skipped}")
