"""Delete uploaded import files of finished or lost jobs, and files no job refers to (issue 16, finding 2)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from customers.import_files import import_files_purge


class Command(BaseCommand):
    help = "Delete uploaded import files that finished or lost jobs left behind (beat also runs this daily)."

    def handle(self, *args, **options):
        removed = import_files_purge()
        self.stdout.write(f"{removed} uploaded import file(s) deleted")
