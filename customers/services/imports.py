"""Import runs and admin import jobs; customers.importing holds the engine."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.outbox import outbox_enqueue
from customers import importing
from customers.models import (
    ImportJob,
    ImportJobStatus,
)

logger = logging.getLogger(__name__)

AUDIT_IMPORT = "customers.import"
IMPORT_JOB_TASK = "customers.import_job_run_task"
# A running job writes its progress at most this often; the admin page refreshes every 2 s.
IMPORT_PROGRESS_INTERVAL_SECONDS = 1.0
IMPORT_JOB_ERROR_MAX_LENGTH = ImportJob._meta.get_field("error").max_length


def import_run(*, source: IO[bytes], file_name: str, mapping: importing.Mapping, bytes_total: int,
               by: User | None, report_stream: IO[str] | None = None,
               batch_size: int | None = None,
               progress: importing.ProgressCallback | None = None, dry_run: bool = False) -> importing.ImportResult:
    """Import a core-banking export and audit it (counts and file name, never row data).

    Call outside a transaction: every batch commits on its own (see customers.importing). A
    file that cannot be imported raises ImportFileError (nothing written); that failure is
    audited too. ``dry_run`` checks every row and writes the report, changing nothing.
    """
    detail = {"kind": mapping.kind, "mapping": mapping.name, "file": Path(file_name).name}
    if dry_run:
        detail["dry_run"] = True
    try:
        result = importing.import_stream(source=source, mapping=mapping, bytes_total=bytes_total,
                                         report_stream=report_stream,
                                         batch_size=batch_size or importing.DEFAULT_BATCH_SIZE, progress=progress,
                                         dry_run=dry_run)
    except importing.ImportFileError as exc:
        audit_record(actor=by, action=AUDIT_IMPORT, detail={**detail, "failed": str(exc)})
        raise
    audit_record(actor=by, action=AUDIT_IMPORT, detail={**detail, **result.counts(), "encoding": result.encoding})
    return result


@transaction.atomic
def import_job_create(*, mapping_name: str, uploaded_file: UploadedFile, by: User) -> ImportJob:
    """Store the upload as an import job with a shipped mapping and queue its run."""
    if not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if mapping_name not in importing.mapping_names():
        raise ApplicationError.invalid(_("Choose one of the shipped mappings."), field="mapping")
    try:
        mapping = importing.mapping_load(name_or_path=mapping_name)
    except importing.ImportMappingError as exc:
        raise ApplicationError.invalid(str(exc), field="mapping") from exc
    job = ImportJob.objects.create(kind=mapping.kind, mapping=mapping_name, source_file=uploaded_file,
                                   bytes_total=uploaded_file.size or 0, created_by=by)
    outbox_enqueue(task_name=IMPORT_JOB_TASK, kwargs={"job_id": job.pk})
    return job


@transaction.atomic
def import_job_start(*, job_id: int) -> bool:
    """Move a queued job to running; return False when it is not queued (already taken)."""
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if ImportJobStatus.RUNNING not in ImportJob.TRANSITIONS.get(job.status, set()):
        return False
    job.status = ImportJobStatus.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["status", "started_at"])
    return True


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a running job's import, writing progress as it goes; finish it as done or failed.

    Call outside a transaction (after import_job_start committed), so each batch and each
    progress update commits and the admin page sees them.
    """
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.status != ImportJobStatus.RUNNING:
        return job
    last_write = 0.0
    # The importer's live counts (rows committed so far): a failed job records them, not a stale write.
    latest: dict[str, importing.ImportResult] = {}

    def write_progress(result: importing.ImportResult) -> None:
        nonlocal last_write
        latest["result"] = result
        if time.monotonic() - last_write < IMPORT_PROGRESS_INTERVAL_SECONDS:
            return
        last_write = time.monotonic()
        ImportJob.objects.filter(pk=job.pk).update(**_import_job_counters(result))

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as report_stream:
        try:
            mapping = importing.mapping_load(name_or_path=job.mapping)
            with job.source_file.open("rb") as source:
                result = import_run(source=source, file_name=job.source_file.name, mapping=mapping,
                                    bytes_total=job.source_file.size, by=job.created_by,
                                    report_stream=report_stream, progress=write_progress)
        except (importing.ImportFileError, importing.ImportMappingError) as exc:
            return _import_job_finish(job=job, status=ImportJobStatus.FAILED, error=str(exc),
                                      result=latest.get("result"))
        except Exception as exc:
            # The type only: a database error's text quotes the row it refused (PII).
            logger.error("Import job %s failed: %s", job.pk, type(exc).__name__)
            _import_job_finish(job=job, status=ImportJobStatus.FAILED, result=latest.get("result"),
                               error=f"internal error ({type(exc).__name__}); see the worker log")
            raise
        report_stream.seek(0)
        job.report_file.save(f"import-{job.pk}-errors.csv", File(report_stream), save=False)
    return _import_job_finish(job=job, status=ImportJobStatus.DONE, result=result)


@transaction.atomic
def _import_job_finish(*, job: ImportJob, status: str, result: importing.ImportResult | None = None,
                       error: str = "") -> ImportJob:
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if status not in ImportJob.TRANSITIONS.get(locked.status, set()):
        raise ApplicationError(ErrorCode.INVALID_TRANSITION)
    job.status = status
    job.finished_at = timezone.now()
    job.error = error[:IMPORT_JOB_ERROR_MAX_LENGTH]
    fields = ["status", "finished_at", "error", "report_file"]
    if result is not None:
        for name, value in _import_job_counters(result).items():
            setattr(job, name, value)
        fields += list(_import_job_counters(result))
    job.save(update_fields=fields)
    return job


def _import_job_counters(result: importing.ImportResult) -> dict[str, int]:
    # Rows of a batch not yet written are left out, so the counters always add up.
    processed = result.created + result.updated + result.unchanged + result.rejected
    return {
        "rows_read": processed, "rows_created": result.created, "rows_updated": result.updated,
        "rows_unchanged": result.unchanged, "rows_rejected": result.rejected,
        "bytes_read": result.bytes_read, "bytes_total": result.bytes_total,
    }

