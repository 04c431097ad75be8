"""Check the audit log's hash chain: `manage.py verify_audit_chain` (exit status 1 when broken)."""

from django.core.management.base import BaseCommand, CommandError

from core.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Recompute the audit log's hash chain and report the first row that breaks it."

    def handle(self, *args, **options) -> None:
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(f"Audit chain broken after {report.rows_checked} good rows: {report.problem}")
        pending = f", {report.pending_rows} committed row(s) not sealed yet" if report.pending_rows else ""
        self.stdout.write(self.style.SUCCESS(f"OK: {report.rows_checked} rows verified{pending}"))
