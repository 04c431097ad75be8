"""The extension points: panels, menu entries, dashboard tiles and notifications registered from above."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy

from core import dashboard, navigation, notifications
from core.models import Notification
from core.registry import Registry
from customers import panels
from tests.customers.factories import CustomerFactory

BASE_DIR = Path(settings.BASE_DIR)
HIGHER_APPS = ("segmentation", "service", "complaints", "lifecycle", "training", "evaluation", "improvement")


def test_registry_orders_by_order_then_key_and_replaces_a_key():
    registry = Registry("test")
    registry.register(key="b", order=20, template="b.html")
    registry.register(key="a", order=20, template="a.html")
    registry.register(key="c", order=10, template="c.html")
    registry.register(key="b", order=5, template="b2.html")
    assert [entry.template for entry in registry] == ["b2.html", "c.html", "a.html"]


def test_the_chapters_register_their_360_panels_and_menu_entries():
    assert panels.CUSTOMER_PANELS.keys()[:3] == ["segmentation", "service", "complaints"]
    assert {"segmentation", "service", "complaints"} <= set(navigation.NAV_ITEMS.keys())


def test_customer_templates_never_load_a_higher_apps_tag_library():
    """customers owns the 360 page; higher apps plug in through customers.panels, never by name."""
    load = re.compile(r"{%\s*load\s+([^%]+)%}")
    offenders = []
    for path in (BASE_DIR / "templates" / "customers").rglob("*.html"):
        for libraries in load.findall(path.read_text()):
            offenders += [(path.name, lib) for lib in libraries.split() if lib.startswith(HIGHER_APPS)]
    assert offenders == []


def test_only_accounts_asks_whether_a_principal_is_an_api_key():
    """The principal scope lives in accounts (accounts.scope); no app decides it by hand."""
    offenders = []
    for path in BASE_DIR.rglob("*.py"):
        relative = path.relative_to(BASE_DIR)
        if relative.parts[0] in {".venv", "tests", "accounts", "var", "bench"}:
            continue
        if "is_api_client(" in path.read_text():
            offenders.append(str(relative))
    assert offenders == []


def test_a_registered_panel_shows_on_the_360_page_and_can_hide_itself(client_as, settings):
    rm = client_as("rm")
    customer = CustomerFactory(relationship_manager=rm.user, branch=rm.user.branch)
    seen = []

    def context(*, request, customer):
        seen.append(customer.pk)
        return {"note": "panel-marker-42"} if request.user.pk == rm.user.pk else None

    panels.customer_panel_register(key="zz-test", order=999, template="core/tests/panel.html", context=context)
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"],
                                                           BASE_DIR / "tests" / "core" / "templates"]}]
    try:
        content = rm.get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    finally:
        panels.CUSTOMER_PANELS.unregister("zz-test")
    assert "panel-marker-42" in content and f"customer-{customer.pk}" in content
    assert seen == [customer.pk]


def test_dashboard_tiles_skip_those_that_return_none(rf, make_user):
    request = rf.get("/")
    request.user = make_user()
    dashboard.dashboard_tile_register(key="zz-shown", order=1, template="shown.html", context=lambda **_: {"n": 1})
    dashboard.dashboard_tile_register(key="zz-hidden", order=2, template="hidden.html", context=lambda **_: None)
    try:
        tiles = [(template, ctx["n"]) for template, ctx in dashboard.dashboard_tiles_for(request=request)
                 if template in {"shown.html", "hidden.html"}]
    finally:
        dashboard.DASHBOARD_TILES.unregister("zz-shown")
        dashboard.DASHBOARD_TILES.unregister("zz-hidden")
    assert tiles == [("shown.html", 1)]


@pytest.fixture
def test_kind():
    notifications.notification_kind_register(
        kind="tests.report_ready", message=gettext_lazy("Report %(period)s is ready"))
    yield "tests.report_ready"


def test_notification_renders_in_the_readers_language_from_kind_and_params(make_user, test_kind):
    user = make_user()
    note = notifications.notification_send(recipient=user, kind=test_kind, params={"period": "2026-11"})
    assert notifications.notification_text(note) == "Report 2026-11 is ready"
    assert Notification.objects.get(pk=note.pk).params == {"period": "2026-11"}
    with translation.override("zh-hans"):
        assert notifications.notification_text(note) == "报告 2026-11 已生成"


def test_dedupe_key_sends_once_per_recipient(make_user, test_kind):
    first, second = make_user(username="a"), make_user(username="b")
    sent = [notifications.notification_send(recipient=user, kind=test_kind, params={"period": "p"}, dedupe_key="k1")
            for user in (first, first, second)]
    assert sent[0] is not None and sent[1] is None and sent[2] is not None
    assert Notification.objects.filter(dedupe_key="k1").count() == 2


def test_unregistered_kind_is_refused(make_user):
    with pytest.raises(ValueError, match="unregistered"):
        notifications.notification_send(recipient=make_user(), kind="tests.nope")
    assert not Notification.objects.exists()


def test_mark_read_touches_only_the_readers_own_notifications(make_user, test_kind):
    reader, other = make_user(username="reader"), make_user(username="other")
    mine = notifications.notification_send(recipient=reader, kind=test_kind, params={"period": "1"})
    theirs = notifications.notification_send(recipient=other, kind=test_kind, params={"period": "2"})
    assert notifications.notification_mark_read(user=reader, notification_ids=[mine.pk, theirs.pk]) == 1
    assert notifications.notification_unread_count(user=reader) == 0
    assert notifications.notification_unread_count(user=other) == 1
