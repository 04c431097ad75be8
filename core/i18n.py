"""Reference data in two languages: the project seeds its own rows (touchpoints, SOP steps, survey topics,
tier strategies) with an English and a Chinese text; a page shows the one of the UI language."""

from django.utils.translation import get_language


def ui_is_chinese() -> bool:
    return (get_language() or "").lower().startswith("zh")


def text_in_ui_language(*, en: str, zh: str) -> str:
    """The Chinese text on a Chinese page when there is one; otherwise the English (never empty if either is set)."""
    if ui_is_chinese():
        return zh or en
    return en or zh


def texts_in_ui_language(*, en: list[str], zh: list[str]) -> list[str]:
    """The same for a list whose Chinese entries match the English ones by position."""
    return [text_in_ui_language(en=step, zh=zh[index] if index < len(zh) else "") for index, step in enumerate(en)]
