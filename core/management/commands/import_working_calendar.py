"""Import holidays and working weekend days from a CSV (date,kind,name); replaces the years it names."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import workdays
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Import the working-day calendar from a CSV (date,kind,name); replaces every year in the file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        try:
            result = workdays.calendar_import_csv(text=text, by=None)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(
            f"years {', '.join(map(str, result.years))}: {result.holidays} holidays, "
            f"{result.workdays} working weekend days"))
