"""The audit log in admin: readable actions, actor names, objects, masked details, filters, read-only, fast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin as django_admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts import permissions
from accounts.models import Role
from core import audit
from core.admin import AUDIT_LIST_COUNT_CAP, AuditEventAdmin, CappedCountPaginator, masked_audit_detail
from core.audit import AuditAction, audit_record
from core.models import AuditEvent
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/admin/core/auditevent/"
BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture(autouse=True)
def _empty_log(db):
    from tests.core.test_audit import append_only_triggers_disabled

    if AuditEvent.objects.exists():
        with append_only_triggers_disabled():
            AuditEvent.objects.all().delete()


def _admin(client_as, role="auditor"):
    return client_as(role, is_staff=True, first_name="静", last_name="刘")


# --- Who may read it, and nobody writes ---------------------------------------------------


@pytest.mark.parametrize("role", ["rm", "branch_manager", "complaint_desk", "auditor", "admin"])
def test_the_log_is_readable_by_auditors_and_admins_only(client_as, role):
    client = client_as(role, is_staff=True)
    audit_record(actor=client.user, action=AuditAction.LOGIN)
    response = client.get(URL)
    expected = 200 if permissions.can_view_audit_log(client.user) else 403
    assert response.status_code == expected
    if expected == 200:
        assert "signed in" in response.content.decode()


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_nobody_adds_changes_or_deletes_an_event_superuser_included(client_as, make_user, client, role):
    reader = client_as(role, is_staff=True)
    event = audit_record(actor=reader.user, action=AuditAction.LOGIN)
    responses = [reader.get(f"{URL}add/"), reader.post(f"{URL}{event.pk}/delete/", {"post": "yes"}),
                 reader.post(f"{URL}{event.pk}/change/", {"action": "x"})]
    assert [r.status_code for r in responses] == [403, 403, 403]
    superuser = make_user(username="root", is_superuser=True, is_staff=True)
    client.force_login(superuser)
    assert client.get(f"{URL}add/").status_code == 403
    assert client.post(f"{URL}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    detail = client.get(f"{URL}{event.pk}/change/")
    assert detail.status_code == 200 and 'type="submit"' not in detail.content.decode().split('id="content"')[1]
    event.refresh_from_db()
    assert event.action == AuditAction.LOGIN
    model_admin = AuditEventAdmin(AuditEvent, django_admin.site)
    request = type("R", (), {"user": superuser})()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert model_admin.get_actions(type("R", (), {"user": superuser, "GET": {}})()) == {}


# --- What a row reads like -----------------------------------------------------------------


def test_a_row_shows_the_translated_action_the_staff_name_the_object_and_a_masked_detail(client_as, make_user,
                                                                                        branch):
    reader = _admin(client_as)
    actor = make_user(Role.RELATIONSHIP_MANAGER, first_name="伟", last_name="张", username="rm_zhang")
    customer = CustomerFactory(branch=branch)
    audit_record(actor=actor, action=AuditAction.PII_REVEAL, target=customer,
                 detail={"field": "phone", "contact_phone": "13812345678", "note": "rang 13912345678"})
    content = reader.get(URL).content.decode()
    assert "personal data revealed" in content
    assert "张伟 (rm_zhang)" in content and f'href="?actor={actor.pk}"' in content
    assert f"Customer #{customer.pk}" in content
    assert "138****5678" in content and "139****5678" in content
    assert "13812345678" not in content and "13912345678" not in content
    with translation.override("zh-hans"):
        zh = reader.get(URL, headers={"accept-language": "zh-hans"}).content.decode()
    assert "查看明文" in zh


def test_system_anonymous_and_api_keys_read_as_such(client_as):
    reader = _admin(client_as)
    audit_record(actor=None, action="calendar.import")
    from django.contrib.auth.models import AnonymousUser

    audit_record(actor=AnonymousUser(), action=AuditAction.LOGIN_FAILED, detail={"username_known": False})
    audit_record(actor=type("Key", (), {"audit_label": "api-key:core-banking"})(), action="customers.customer_create")
    content = reader.get(URL).content.decode()
    assert "system (automatic)" in content and "anonymous (not signed in)" in content
    assert "API key core-banking" in content
    assert "working-day calendar imported" in content and "sign-in failed" in content


def test_an_unregistered_action_reads_as_its_code(client_as):
    reader = _admin(client_as)
    audit_record(actor=None, action="test.unknown_action")
    assert "test.unknown_action" in reader.get(URL).content.decode()


def test_the_detail_page_shows_labels_and_the_masked_detail_never_the_raw_json(client_as):
    reader = _admin(client_as)
    event = audit_record(actor=reader.user, action=AuditAction.EXPORT, detail={"id_number": "110101199003071234"})
    content = reader.get(f"{URL}{event.pk}/change/").content.decode()
    assert "data exported" in content and "刘静" in content
    assert "110***********1234" in content and "110101199003071234" not in content


def test_detail_masking_by_key_and_in_free_text():
    masked = masked_audit_detail({"name": "张三丰", "email": "zhang@example.cn", "address": "北京市朝阳区建国路88号",
                                  "nested": {"mobile": "13812345678"}, "ids": [1, 2], "matches": 3,
                                  "text": "ID 11010119900307123X today"})
    assert masked == {"name": "张**", "email": "z****@example.cn", "address": "北京市朝阳区****",
                      "nested": {"mobile": "138****5678"}, "ids": [1, 2], "matches": 3,
                      "text": "ID 110***********123X today"}


# --- Filters and search ------------------------------------------------------------------------


def _rows(response) -> str:
    """The result table only (the filter sidebar lists every label too)."""
    content = response.content.decode()
    return content.split('id="result_list"')[1].split("</table>")[0] if 'id="result_list"' in content else ""


def test_filters_by_action_actor_and_date(client_as, make_user):
    reader = _admin(client_as)
    other = make_user(Role.RELATIONSHIP_MANAGER, username="rm_other")
    audit_record(actor=reader.user, action=AuditAction.LOGIN)
    audit_record(actor=other, action=AuditAction.LOGOUT)
    audit_record(actor=None, action="calendar.import")
    by_action = _rows(reader.get(URL, {"action": AuditAction.LOGOUT}))
    assert "signed out" in by_action and "working-day calendar imported" not in by_action
    by_actor = _rows(reader.get(URL, {"actor": str(other.pk)}))
    assert "rm_other" in by_actor and "working-day calendar imported" not in by_actor
    system = _rows(reader.get(URL, {"actor": "system"}))
    assert "working-day calendar imported" in system and "signed out" not in system
    assert "signed out" in _rows(reader.get(URL, {"occurred_at__gte": "2000-01-01"}))
    assert _rows(reader.get(URL, {"occurred_at__gte": "2000-01-01", "occurred_at__lt": "2000-01-02"})) == ""
    # The action filter offers labels from the registry.
    assert "complaints searched by name or phone" in reader.get(URL).content.decode()


def test_exact_search_by_username(client_as):
    reader = _admin(client_as)
    audit_record(actor=reader.user, action=AuditAction.LOGIN)
    audit_record(actor=None, action="calendar.import")
    content = _rows(reader.get(URL, {"q": reader.user.username}))
    assert "signed in" in content and "working-day calendar imported" not in content


# --- Fast at scale -------------------------------------------------------------------------------


def _list_queries(reader) -> list[str]:
    reader.get(URL)
    with CaptureQueriesContext(connection) as queries:
        response = reader.get(URL)
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def test_the_list_never_counts_the_whole_table_and_loads_actors_once(client_as, make_user):
    reader = _admin(client_as)
    actors = [make_user(username=f"staff{i}") for i in range(5)]
    for i in range(5):
        audit_record(actor=actors[i], action=AuditAction.LOGIN)
    few = _list_queries(reader)
    for i in range(40):
        audit_record(actor=actors[i % 5], action=AuditAction.LOGOUT, target=actors[i % 5])
    many = _list_queries(reader)
    assert len(many) == len(few) <= 12, many  # the same queries for 5 rows and 45: nothing per row
    counts = [q for q in many if "COUNT(" in q.upper() and "core_auditevent" in q]
    assert counts and all("LIMIT" in q.upper() for q in counts), counts  # capped counts only
    assert len([q for q in many if 'FROM "accounts_user"' in q and '"accounts_user"."id" IN' in q]) == 1


def test_the_count_is_capped(monkeypatch):
    monkeypatch.setattr("core.admin.AUDIT_LIST_COUNT_CAP", 3)
    for _ in range(5):
        audit_record(actor=None, action="calendar.import")
    assert CappedCountPaginator(AuditEvent.objects.order_by("-id"), 100).count == 3
    assert AUDIT_LIST_COUNT_CAP == 10_000  # the module constant itself


# --- Every action written in the code has a label --------------------------------------------


def _actions_written_in_code() -> set[str]:
    """The action of every audit_record(...) call outside tests and benchmarks, resolved to its string."""
    found = set()
    constants = {"AuditAction." + name: value for name, value in vars(AuditAction).items() if name.isupper()}
    for path in BASE_DIR.rglob("*.py"):
        relative = path.relative_to(BASE_DIR)
        if relative.parts[0] in {".venv", "tests", "bench", "var"} or "migrations" in relative.parts:
            continue
        tree = ast.parse(path.read_text())
        module_constants = {target.id: node.value.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                            for target in node.targets if isinstance(target, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    == "audit_record"):
                continue
            for keyword in node.keywords:
                if keyword.arg != "action":
                    continue
                value = keyword.value
                if isinstance(value, ast.Constant):
                    found.add(value.value)
                elif isinstance(value, ast.Name) and value.id in module_constants:
                    found.add(module_constants[value.id])
                elif ast.unparse(value) in constants:
                    found.add(constants[ast.unparse(value)])
    return found | {AuditAction.LOGIN_FAILED, AuditAction.LOCKED_OUT}  # passed through a helper


def test_every_action_written_in_the_code_has_a_label():
    actions = _actions_written_in_code()
    assert len(actions) > 50
    missing = sorted(action for action in actions if audit.audit_action_label(action) == action)
    assert missing == []


def test_every_label_is_translated_to_chinese():
    with translation.override("zh-hans"):
        untranslated = [action for action, label in audit.audit_action_choices()
                        if label.isascii() and not label.startswith("API")]
    assert untranslated == []
