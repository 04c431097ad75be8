"""Every page of every role, in Chinese and English, on a laptop and a phone: one walk, several checks.

For each role (and the public, signed out), in each language and on each screen size (each role in both
languages and on both sizes, the four pairs spread over the roles; CRM_WALK_FULL=1 for all), the walk follows the
menu and the links it finds (tests/e2e/walk.py) and fails on
- any 4xx/5xx answer (the page or anything it loads, the favicon included) and any console error;
- a page wider than the screen (tables scroll inside their box);
- English words on a zh-hans page, and Chinese UI words on an en page;
- any WCAG 2.1 A/AA violation found by axe-core (vendored in tests/e2e/assets, injected into the page),
  also with the menu expanded, a dropdown or modal open and a form showing its validation errors.
Screenshots of every page land in test-artifacts/walk/.
"""

import importlib
import os
import threading
import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from tests.e2e.conftest import ARTIFACTS_DIR, CHROMIUM, CHROMIUM_ARGS
from tests.e2e.walk import Walker, WalkReport

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROLES = ["admin", "manager1", "rm1", "desk1", "auditor1", None]  # None: a customer, signed out
LANGUAGES = ["zh-hans", "en"]
SIZES = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
PUBLIC_START = ["/public/", "/public/complaints/new/", "/public/complaints/", "/accounts/login/"]
# Forms the walk submits empty to see their validation errors (they create nothing when invalid).
FORM_PATH_ENDINGS = ("/new/", "/override/", "/edit/", "/interactions/new/")


@pytest.fixture
def demo_site(transactional_db, monkeypatch):
    """The demo data of `seed_demo`, small: six logins, 40 customers and their history."""
    from django.apps import apps

    importlib.import_module("complaints.migrations.0002_default_categories_and_sla").seed(apps, None)
    monkeypatch.setenv("CRM_DEMO_PASSWORD", "walk-password-1")
    # The walk submits the public form empty once per language and size from one address; the
    # anti-abuse limit (5 an hour per address) is tested in tests/complaints, not walked into here.
    from complaints import public_views

    monkeypatch.setattr(public_views, "SUBMIT_LIMIT_PER_IP", (1000, 3600))
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", customers=40, months=3, workers=1, stdout=quiet)


def _survey_links() -> list[str]:
    """One survey's page: customers reach it from a text message, not from a link on a page."""
    from urllib.parse import urlsplit

    from service.models import OutboundMessage

    for message in OutboundMessage.objects.filter(invitation__isnull=False).order_by("-pk")[:20]:
        if message.link:
            return [urlsplit(message.link).path]
    return []


# Findings another piece of work fixes (name it); the walk reports them again once it lands. Keep short.
KNOWN_GAPS = [
    # Data-quality issue details are stored English sentences; the import helper's rewrite of the
    # data-quality pass stores a code plus parameters rendered in the reader's language (issue 15).
    ("english-on-zh", "/customers/data-quality/"),
]


def _known_gap(problem) -> bool:
    return any(problem.check == check and problem.url.startswith(url) for check, url in KNOWN_GAPS)


def _session_cookie(username: str, base_url: str) -> dict:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": base_url}


def _interactive_states(walker: Walker, visited: list[str], size: str) -> None:
    """The menu expanded (phone) or the user menu open (laptop), open modals, forms with errors."""
    page = walker.page
    start = visited[0]
    walker.visit(start)
    toggler = page.locator(".navbar-toggler")
    if size == "phone" and toggler.count() and toggler.first.is_visible():
        toggler.first.click()
        page.locator(".navbar-collapse.show").wait_for()
        walker.check_page(start, label="menu-open")
    dropdown = page.locator("nav [data-bs-toggle=dropdown]")
    if dropdown.count() and dropdown.first.is_visible():
        dropdown.first.click()
        page.locator("nav .dropdown-menu.show").wait_for()
        walker.check_page(start, label="dropdown-open")
    for path in visited:
        if path.endswith(FORM_PATH_ENDINGS):
            walker.visit(path)
            form = page.locator("main form[method=post]:has([type=submit])").last
            if not form.count():
                continue
            form.evaluate("f => { f.noValidate = true;"
                          " f.querySelectorAll('[required]').forEach(e => e.removeAttribute('required')); }")
            form.locator("[type=submit]").last.click()
            page.wait_for_load_state("load")
            walker.check_page(path, label="form-errors")
    for path in walker.modal_pages[:2]:
        walker.visit(path)
        page.locator("[data-bs-toggle=modal]").first.click()
        page.locator(".modal.show").wait_for()
        walker.check_page(path, label="modal-open")


def _walk_combos(combos: list[tuple], base_url: str, report: WalkReport) -> None:
    """One browser per worker thread (Playwright's sync API belongs to the thread that started it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for combo, language, size, viewport, cookies, start in combos:
                context = browser.new_context(viewport=viewport, locale=language, bypass_csp=True)
                context.add_cookies(cookies)
                walker = Walker(context=context, base_url=base_url, combo=combo, language=language,
                                report=report, artifacts_dir=ARTIFACTS_DIR)
                try:
                    visited = walker.walk(start)
                    _interactive_states(walker, visited, size)
                except Exception as error:  # a crash in one combination is a finding, not the end of the walk
                    report.add("walk", combo, walker.page.url, f"{type(error).__name__}: {error}")
                finally:
                    context.close()
        finally:
            browser.close()


def _language_sizes(role_index: int) -> list[tuple[str, str]]:
    """Each role in both languages and on both sizes; the four language x size pairs across the roles.

    Every pair for every role (24 combinations) doubles the suite's longest test for little: what breaks
    on a phone or in one language shows on any page of that kind. CRM_WALK_FULL=1 walks all of them.
    """
    if os.environ.get("CRM_WALK_FULL"):
        return [(language, size) for language in LANGUAGES for size in SIZES]
    sizes = list(SIZES) if role_index % 2 == 0 else list(reversed(SIZES))
    return list(zip(LANGUAGES, sizes, strict=True))


def test_every_page_of_every_role_in_both_languages_and_sizes(live_server, browser, demo_site):
    report = WalkReport()
    started = time.monotonic()
    combos = []
    for role_index, role in enumerate(ROLES):
        session = _session_cookie(role, live_server.url) if role else None
        for language, size in _language_sizes(role_index):
            cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
            if session:
                cookies.append(session)
            combos.append((f"{role or 'public'}-{language}-{size}", language, size, SIZES[size], cookies,
                           ["/"] if role else PUBLIC_START + _survey_links()))
    # Spread the combinations over a few browsers: the live server answers requests in threads.
    workers = max(1, int(os.environ.get("CRM_WALK_WORKERS", "3")))
    threads = [threading.Thread(target=_walk_combos, args=(combos[index::workers], live_server.url, report))
               for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    summary = (f"walked {report.pages} pages ({report.axe_runs} axe runs, {len(combos)} role/language/size "
               f"combinations, {workers} browsers) in {seconds:.0f} s; {len(report.problems)} problems; "
               "browser seconds by step: " + ", ".join(f"{step} {sec:.0f}" for step, sec in report.seconds.items()))
    print(summary)
    for combo, visited in sorted(report.visited.items()):
        print(f"  {combo}: {' '.join(visited)}")
    problems = [problem for problem in report.problems if not _known_gap(problem)]
    assert not problems, summary + "\n" + "\n".join(str(problem) for problem in sorted(problems, key=str))
