"""Course content kept safe: rich text through an allowlist sanitiser, uploads checked by size,
declared type and their first bytes.

TODO(#14): switch ``upload_check`` to the core magic-bytes allowlist once the security branch's
function is on main; this is a minimal local check until then.
"""

from __future__ import annotations

import nh3
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from core.errors import ApplicationError

ALLOWED_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "h2", "h3", "h4", "blockquote",
    "code", "pre", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}, "td": {"colspan", "rowspan"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Declared content type → the bytes such a file starts with.
UPLOAD_SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


def html_sanitize(raw: str) -> str:
    """Keep formatting tags and http(s)/mailto links; drop scripts, styles, event handlers and the rest.

    Links get rel="noopener noreferrer nofollow" so a course cannot reach back into the CRM's window.
    """
    return nh3.clean(
        raw or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def upload_check(upload: UploadedFile) -> str:
    """Refuse a file over the size limit or whose first bytes are not a PDF, PNG or JPEG; return its type.

    The type is read from the bytes, not trusted from the browser's header.
    """
    if upload.size is None or upload.size > MAX_UPLOAD_BYTES:
        raise ApplicationError.invalid(_("Files are limited to 10 MB."), field="attachment")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for content_type, signatures in UPLOAD_SIGNATURES.items():
        if any(head.startswith(signature) for signature in signatures):
            return content_type
    raise ApplicationError.invalid(_("Attach a PDF, PNG or JPEG file."), field="attachment")
