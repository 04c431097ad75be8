"""One English word, two meanings: choices of different models never share a context-free msgid.

"closed" is a closed account (已销户) for a customer and a closed complaint (已关闭) for a complaint;
with one msgid both got the same Chinese. Every choice label of the project's models is either
translated with a context (pgettext_lazy) or its msgid is used by one choices class only, unless the
pair is listed below as meaning the same thing.
"""

from collections import defaultdict

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.functional import Promise

# msgids that mean the same wherever they appear (checked by a person; add with care).
SAME_MEANING = {
    "branch counter", "phone", "online banking", "mobile app",  # a contact channel, for customers and complaints
    "VIP customer", "important customer", "general customer",  # the value class and the tier it leads to
    "running", "done", "failed", "queued",  # the state of a background job or message
    "open", "resolved",  # a case (data-quality issue, follow-up, complaint) still to handle / handled
    "other",  # the last entry of a list
    "branch", "relationship manager",  # a KPI scope, an enrolment's source, a role: the same branch / person
    "classroom", "drill",  # how a course is taught and how one session of it runs
    "SMS", "phone call",  # a way of reaching a customer: a contact preference, a message, an interaction
}


def _project_choices_classes() -> list[type[models.Choices]]:
    found = []
    pending = list(models.Choices.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in _project_packages():
            found.append(cls)
    return found


def _project_packages() -> set[str]:
    root = str(settings.BASE_DIR)
    return {config.name.split(".")[0] for config in apps.get_app_configs()
            if config.path.startswith(root) and "/.venv/" not in config.path and config.name != "tests.piiapp"}


def _label_msgid(label) -> tuple[str | None, str] | None:
    """(context, msgid) of a lazy translated label; None for a plain string (not translated)."""
    if not isinstance(label, Promise):
        return None
    args = getattr(label, "_args", None) or getattr(label, "_proxy____args", None)
    if not args:
        return None
    if len(args) == 2:  # pgettext_lazy(context, message)
        return args[0], args[1]
    return None, args[0]


def test_the_walker_sees_the_project_choices():
    classes = {f"{cls.__module__}.{cls.__qualname__}" for cls in _project_choices_classes()}
    assert "complaints.models.ComplaintStatus" in classes
    assert "customers.models.CustomerStatus" in classes


def test_no_context_free_msgid_is_shared_by_two_choices_classes():
    users: dict[str, set[str]] = defaultdict(set)
    for cls in _project_choices_classes():
        for label in cls.labels:
            key = _label_msgid(label)
            if key and key[0] is None:
                users[key[1]].add(f"{cls.__module__}.{cls.__qualname__}")
    shared = {msgid: sorted(classes) for msgid, classes in users.items()
              if len(classes) > 1 and msgid not in SAME_MEANING}
    assert not shared, (
        "these msgids appear in several choices classes without a context; use pgettext_lazy with a "
        f"context naming the meaning: {shared}"
    )


def test_closed_complaint_and_closed_account_read_differently_in_chinese():
    from complaints.models import ComplaintEventKind, ComplaintStatus
    from customers.models import ConsentState, CustomerStatus

    with translation.override("zh-hans"):
        assert str(ComplaintStatus.CLOSED.label) == "已关闭"
        assert str(CustomerStatus.CLOSED.label) == "已销户"
        assert str(ConsentState.GIVEN.label) == "已同意"
        assert "同意" not in str(ComplaintEventKind.ACKNOWLEDGED.label)
