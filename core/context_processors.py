from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language


def bank(request: HttpRequest) -> dict:
    """The bank's name in the page's language and its phone, for the public pages and error pages."""
    chinese = (get_language() or "").startswith("zh")
    return {
        "bank_name": settings.BANK_NAME_ZH if chinese else settings.BANK_NAME_EN,
        "bank_contact_phone": settings.BANK_CONTACT_PHONE,
        "is_public_page": request.path.startswith("/public/"),
    }
