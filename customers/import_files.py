"""The uploaded import files: private while the job runs, gone when it ends (issue 16, finding 2).

An upload of a core-banking export holds ID and phone numbers in plaintext. It is written with
FILE_UPLOAD_PERMISSIONS (0600) under MEDIA_ROOT, which no URL serves; ``import_job_source_discard``
deletes it as soon as the job's task ends (done or failed), and ``import_files_purge`` (daily, and
``manage.py import_files_purge``) deletes whatever a lost worker left behind.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from customers.models import ImportJob, ImportJobStatus

logger = logging.getLogger(__name__)

IMPORT_UPLOAD_DIR = "imports"
# A job still queued or running after this long is taken as lost (the task's hard limit is 55 min).
STALE_AFTER = timedelta(hours=6)


@transaction.atomic
def import_job_source_discard(*, job_id: int) -> bool:
    """Delete a finished job's uploaded file and clear the field; True when a file went."""
    job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or not job.source_file:
        return False
    name = job.source_file.name
    job.source_file.delete(save=False)
    ImportJob.objects.filter(pk=job.pk).update(source_file="")
    logger.info("Import job %s: uploaded file deleted", job_id)
    return bool(name)


def import_files_purge(*, now=None) -> int:
    """Delete uploads of finished or stale jobs and files under imports/ that no job refers to."""
    now = now or timezone.now()
    removed = 0
    ended = ImportJob.objects.exclude(source_file="").filter(
        status__in=(ImportJobStatus.DONE, ImportJobStatus.FAILED)
    ) | ImportJob.objects.exclude(source_file="").filter(created_at__lt=now - STALE_AFTER)
    for job_id in ended.values_list("pk", flat=True).distinct():
        removed += import_job_source_discard(job_id=job_id)
    referenced = set(ImportJob.objects.exclude(source_file="").values_list("source_file", flat=True))
    try:
        _directories, files = default_storage.listdir(IMPORT_UPLOAD_DIR)
    except (FileNotFoundError, NotImplementedError):
        return removed
    for file_name in files:
        path = f"{IMPORT_UPLOAD_DIR}/{file_name}"
        if path in referenced:
            continue
        try:
            modified = default_storage.get_modified_time(path)
        except (NotImplementedError, OSError):
            modified = None
        if modified is None or modified < now - STALE_AFTER:
            default_storage.delete(path)
            removed += 1
    return removed
