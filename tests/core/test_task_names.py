"""Task names written as strings (outbox messages, the beat schedule) name tasks a worker has registered.

A typo in a task name would be found only by a worker, once, in its log ("Received unregistered
task"), while the outbox marked the message sent. This reads every ``outbox_enqueue(task_name=...)``
call in the apps' code, resolves the name (a string, or a module-level constant of that module)
and checks it against the tasks the project's Celery app registers.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from django_celery_beat.models import PeriodicTask

from crm_project.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
APPS = ["core", "accounts", "customers", "service", "segmentation", "complaints", "lifecycle", "training",
        "evaluation", "improvement", "crm_project"]


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
    return constants


def outbox_task_names() -> list[tuple[str, str]]:
    """(file:line, task name) of every outbox_enqueue call in the apps (migrations and tests excluded)."""
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            constants = _module_constants(tree)
            imported = {alias.asname or alias.name: node.module for node in ast.walk(tree)
                        if isinstance(node, ast.ImportFrom) for alias in node.names}
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", ""))
                        == "outbox_enqueue"):
                    continue
                if path.name == "outbox.py" and path.parent.name == "core":
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                value = next((kw.value for kw in node.keywords if kw.arg == "task_name"), None)
                assert value is not None, f"{where}: outbox_enqueue without task_name="
                if isinstance(value, ast.Constant):
                    found.append((where, value.value))
                elif isinstance(value, ast.Name) and value.id in constants:
                    found.append((where, constants[value.id]))
                elif isinstance(value, ast.Name) and value.id in imported:
                    module = __import__(imported[value.id], fromlist=[value.id])
                    found.append((where, getattr(module, value.id)))
                else:
                    pytest.fail(f"{where}: task_name must be a string or a module constant to be checked here")
    return found


def registered_tasks() -> set[str]:
    celery_app.loader.import_default_modules()  # autodiscover every app's tasks.py, as a worker does
    return set(celery_app.tasks.keys())


def test_the_scan_finds_the_outbox_calls():
    names = {name for _where, name in outbox_task_names()}
    assert "customers.data_quality_run_task" in names


def test_every_outbox_task_name_is_a_registered_task():
    registered = registered_tasks()
    unknown = [(where, name) for where, name in outbox_task_names() if name not in registered]
    assert not unknown, f"outbox messages naming no registered task: {unknown}"


def test_every_beat_entry_names_a_registered_task():
    registered = registered_tasks()
    schedule = celery_app.conf.beat_schedule
    assert schedule, "the code-defined beat schedule is empty"
    unknown = {name: entry["task"] for name, entry in schedule.items() if entry["task"] not in registered}
    assert not unknown, f"beat entries naming no registered task: {unknown}"


@pytest.mark.django_db
def test_every_scheduled_row_names_a_registered_task_in_the_banks_time_zone():
    """The chapters' migrations store schedules as beat rows (core.beat_schedules); each must run."""
    registered = registered_tasks()
    rows = list(PeriodicTask.objects.select_related("crontab").exclude(name="celery.backend_cleanup"))
    names = {row.name for row in rows}
    assert {"customers: nightly data-quality run", "evaluation: monthly reports",
            "improvement: monthly RM scorecards", "training: daily overdue reminders"} <= names
    assert not [row.name for row in rows if row.task not in registered]
    assert {str(row.crontab.timezone) for row in rows if row.crontab} == {"Asia/Shanghai"}
    quarterly = next(row for row in rows if row.name == "evaluation: quarterly reports")
    assert quarterly.crontab.month_of_year == "1,4,7,10" and json.loads(quarterly.kwargs) == {"kind": "quarterly"}


@pytest.mark.django_db
def test_a_schedule_operation_is_idempotent_and_reversible():
    from django.apps import apps as django_apps

    from core.beat_schedules import BeatSchedule, beat_schedules_operation

    operation = beat_schedules_operation(BeatSchedule(name="test: probe", task="core.audit_seal_task",
                                                      minute="5", hour="4", description="probe"))
    operation.code(django_apps, None)
    operation.code(django_apps, None)  # a re-run creates nothing more
    assert PeriodicTask.objects.filter(name="test: probe").count() == 1
    operation.reverse_code(django_apps, None)
    assert not PeriodicTask.objects.filter(name="test: probe").exists()
