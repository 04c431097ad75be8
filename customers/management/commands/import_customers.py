"""Import a core-banking customer export: ``manage.py import_customers FILE --mapping MAPPING``.

Exit codes: 0 every row imported (created, updated or unchanged); 1 some rows rejected (see
the error report); 2 the file or mapping cannot be imported (nothing written: a file that turns
undecodable midway or ends cut short is refused whole). import_holdings and
import_transactions are this command with another kind.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers import importing, services


class Command(BaseCommand):
    help = "Import customers from a core-banking CSV export (UTF-8, UTF-8 with BOM or GBK), driven by a mapping."
    kind = importing.ImportKind.CUSTOMERS
    # The progress line is redrawn at most this often.
    progress_interval_seconds = 0.2

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="The CSV export.")
        parser.add_argument(
            "--mapping", required=True,
            help=f"A shipped mapping ({', '.join(importing.mapping_names())}) or the path of a JSON mapping.",
        )
        parser.add_argument("--report", metavar="PATH",
                            help="Where to write the error report (CSV). Default: FILE.errors.csv.")
        parser.add_argument("--batch-size", type=int, default=importing.DEFAULT_BATCH_SIZE, metavar="N",
                            help=f"Rows per transaction (default {importing.DEFAULT_BATCH_SIZE}).")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress line.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check every row and write the report; change nothing in the database.")

    def handle(self, *args, file: str, mapping: str, report: str | None, batch_size: int,
               no_progress: bool = False, dry_run: bool = False, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.", returncode=2)
        try:
            parsed_mapping = importing.mapping_load(name_or_path=mapping)
        except importing.ImportMappingError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if parsed_mapping.kind != self.kind:
            raise CommandError(
                f"Mapping {parsed_mapping.name} is for {parsed_mapping.kind}, not {self.kind}.", returncode=2
            )
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file} is not a file.", returncode=2)
        report_path = Path(report) if report else path.with_name(path.name + ".errors.csv")
        started = time.monotonic()
        progress = None if no_progress else self._progress_printer(started)
        try:
            with path.open("rb") as source, report_path.open("w", encoding="utf-8", newline="") as report_stream:
                result = services.import_run(
                    source=source, file_name=path.name, mapping=parsed_mapping,
                    bytes_total=os.path.getsize(path), by=None, report_stream=report_stream,
                    batch_size=batch_size, progress=progress, dry_run=dry_run,
                )
        except importing.ImportFileError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except Exception as exc:
            # Never the exception's text or traceback: a database error quotes the row's values.
            raise CommandError(f"The import stopped on an internal error ({type(exc).__name__}); "
                               "batches before it are imported, nothing after.", returncode=2) from None
        finally:
            if progress:
                self.stderr.write("")
        seconds = max(time.monotonic() - started, 1e-9)
        for warning in result.warnings:
            self.stdout.write(f"Warning: {warning}")
        self.stdout.write(
            ("DRY RUN, nothing written. " if dry_run else "")
            + f"{self.kind}: read {result.read}, created {result.created}, updated {result.updated}, "
            f"unchanged {result.unchanged}, rejected {result.rejected}, warnings {result.warnings_reported} "
            f"({result.encoding}, {seconds:.1f} s, {result.read / seconds:,.0f} rows/s)."
        )
        if result.rejected or result.warnings_reported or result.warnings:
            self.stdout.write(f"Error report: {report_path}")
        if result.rejected:
            sys.exit(1)

    def _progress_printer(self, started: float) -> importing.ProgressCallback:
        last_drawn = [0.0]

        def draw(result: importing.ImportResult) -> None:
            now = time.monotonic()
            if now - last_drawn[0] < self.progress_interval_seconds:
                return
            last_drawn[0] = now
            fraction = result.bytes_read / result.bytes_total if result.bytes_total else 0.0
            bar = "#" * int(30 * fraction)
            rate = result.read / max(now - started, 1e-9)
            self.stderr.write(
                f"\r[{bar:<30}] {100 * fraction:5.1f}% {result.bytes_read / 2**20:,.1f}/"
                f"{result.bytes_total / 2**20:,.1f} MiB {result.read:,} rows {rate:,.0f} rows/s "
                f"rejected {result.rejected:,}",
                ending="",
            )
            self.stderr.flush()

        return draw
