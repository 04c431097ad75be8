"""The one check for files people upload (complaint attachments now, other chapters' uploads later).

The browser's Content-Type and the file name are claims; the first bytes are not. ``upload_check``
reads them and accepts only the kinds in ``allowed`` (default: PDF, PNG, JPEG, Office documents),
refusing SVG and HTML whatever they are called. The file is then stored under a generated name
(``upload_rename``): the uploader's name is kept only as a label, never as a path.
"""

from __future__ import annotations

import uuid
import zipfile
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from core.errors import ApplicationError

HEAD_BYTES = 2048


@dataclass(frozen=True)
class FileKind:
    code: str
    content_type: str
    extension: str


PDF = FileKind("pdf", "application/pdf", ".pdf")
PNG = FileKind("png", "image/png", ".png")
JPEG = FileKind("jpeg", "image/jpeg", ".jpg")
DOCX = FileKind("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx")
XLSX = FileKind("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
PPTX = FileKind("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx")
OLE_OFFICE = FileKind("ole", "application/octet-stream", ".doc")  # .doc / .xls / .ppt (Office 97-2003)
OFFICE = (DOCX, XLSX, PPTX, OLE_OFFICE)
DOCUMENTS = (PDF, PNG, JPEG, *OFFICE)

_OOXML_PART = {"word/": DOCX, "xl/": XLSX, "ppt/": PPTX}


def _sniff(upload: UploadedFile) -> FileKind | None:
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE_OFFICE
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(upload) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        finally:
            upload.seek(0)
        if "[Content_Types].xml" in names:
            for prefix, kind in _OOXML_PART.items():
                if any(name.startswith(prefix) for name in names):
                    return kind
    return None


def upload_check(upload: UploadedFile, *, allowed: tuple[FileKind, ...] = DOCUMENTS, max_bytes: int,
                 field: str = "attachment") -> FileKind:
    """Return the kind the file's content shows, or raise INVALID on ``field`` (too big, or not allowed).

    SVG and HTML (scripts that run in a browser) are never a kind, so never allowed.
    """
    if upload.size is None or upload.size > max_bytes:
        raise ApplicationError.invalid(
            _("The file is larger than %(size)d MB.") % {"size": max_bytes // (1024 * 1024)}, field=field)
    kind = _sniff(upload)
    if kind is None or kind not in allowed:
        names = ", ".join(sorted({k.extension.lstrip(".").upper() for k in allowed}))
        raise ApplicationError.invalid(
            _("This file's content is not an allowed type (%(types)s).") % {"types": names}, field=field)
    return kind


def upload_rename(upload: UploadedFile, kind: FileKind) -> str:
    """Give ``upload`` a random name with the extension of its real kind; return the original name (a label)."""
    original = (upload.name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    upload.name = uuid.uuid4().hex + kind.extension
    return original
