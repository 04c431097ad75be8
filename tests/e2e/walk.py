"""The site walk: visit every page a role reaches from the menu, once per role, language and screen size,
and check each one (status, console, overflow, language, axe-core WCAG 2.1 A/AA).

Pages are discovered, not listed: the walk starts on the role's start page and follows every
same-site link it finds (menu first), visiting one page per URL pattern (numbers in the path are one
pattern: /customers/17/ and /customers/18/ are the same page). A later chapter's new menu entry is
walked without touching this file.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

AXE_JS = Path(__file__).parent / "assets" / "axe-4.14.1.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# Links the walk never follows: they change state, download files, or leave the pages we check.
SKIP_PATH = re.compile(
    r"^/(static|media|api|jsi18n|i18n|healthz|readyz)(/|$)"
    r"|/logout/?$"
    r"|/(export|download)(/|\.|$)"
    r"|\.(csv|xlsx|pdf|json|png|ico|txt)$"
)
# Django admin has one change list per model; the walk checks the index, one change list, one change
# form and one "add" form per role and language, which all share one template each.
ADMIN_PATTERN = re.compile(r"^/admin/(?P<rest>.*)$")

# A word of English UI on a Chinese page: an ASCII word of three letters or more, outside the
# allowed acronyms and the elements marked translate="no" (codes, usernames, product codes).
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
ALLOWED_ASCII = {
    "CRM", "API", "SOP", "CLV", "NPS", "VIP", "SLA", "RFM", "CNY", "PDF", "CSV", "GBK", "URL",
    "AUM", "KYC", "SMS", "App", "APP", "ATM", "POS", "Django", "WCAG", "ISO", "English", "RMB",
    "Office",  # Microsoft Office documents (the attachment types), a product name
    "Hake",  # Hake's normalised gain (training), a person's name
}
# The reverse: Chinese words of the UI (never of the demo data) that must not show on an English page.
CHINESE_UI_WORDS = [
    "首页", "客户列表", "搜索", "提交", "保存", "取消", "返回", "查看明文", "数据质量", "投诉管理",
    "客户分层", "服务报告", "已关闭", "已销户", "已同意", "接触点", "退出登录", "下一页", "上一页",
    "状态", "操作", "共", "条", "暂无",
]

JS_TEXT_FOR_LANGUAGE = """() => {
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('[translate="no"], script, style, noscript, .visually-hidden, [hidden],'
    + ' select[name="language"], code, kbd, .pii-masked, .pii-revealed').forEach(e => e.remove());
  return clone.innerText;
}"""

JS_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width + 1) return null;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.right > width + 1 && !e.closest('.table-responsive, .overflow-auto, .crm-scroll');
  }).slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''));
  return {scrollWidth: document.documentElement.scrollWidth, width, wide};
}"""

JS_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
                                          reporter: 'no-passes', preload: false});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 5).map(n => n.target.join(' ') + (n.failureSummary ? ' :: '
      + n.failureSummary.split('\\n').slice(1, 2).join('').trim() : ''))}));
}"""


def url_pattern(path: str) -> str:
    """One key per page kind: numbers and tokens in the path become placeholders."""
    match = ADMIN_PATTERN.match(path)
    if match:
        parts = [p for p in match["rest"].split("/") if p]
        if not parts:
            return "/admin/"
        if len(parts) >= 2 and not parts[-1].isdigit() and parts[-1] not in {"add", "change"}:
            return "/admin/<changelist>/" if len(parts) == 2 else "/admin/<other>/"
        if parts[-1] == "add":
            return "/admin/<add>/"
        if parts[-1] == "change":
            return "/admin/<change>/"
        return "/admin/<app>/" if len(parts) == 1 else "/admin/<other>/"
    # A path segment with a digit in it (an id, a complaint reference) or a long token is a placeholder.
    path = re.sub(r"/[^/]*\d[^/]*(?=/|$)", "/<n>", path)
    return re.sub(r"/[A-Za-z0-9_-]{20,}(?=/|$)", "/<token>", path)


@dataclass
class Problem:
    check: str
    combo: str
    url: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.combo} {self.url}: {self.detail}"


@dataclass
class WalkReport:
    problems: list[Problem] = field(default_factory=list)
    pages: int = 0
    axe_runs: int = 0
    visited: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # time spent per step, to keep the walk fast

    def timed(self, step: str, started: float) -> None:
        self.seconds[step] = self.seconds.get(step, 0.0) + time.monotonic() - started

    def add(self, check: str, combo: str, url: str, detail: str) -> None:
        self.problems.append(Problem(check, combo, url, detail))


class Walker:
    """Visits pages in one browser context (one role, one language, one size) and checks each."""

    def __init__(self, *, context, base_url: str, combo: str, language: str, report: WalkReport,
                 artifacts_dir: str, max_pages: int = 60, axe: bool = True):
        self.context = context
        self.base_url = base_url.rstrip("/")
        self.combo = combo
        self.language = language
        self.report = report
        self.artifacts_dir = artifacts_dir
        self.max_pages = max_pages
        self.axe = axe
        self.modal_pages: list[str] = []  # pages with a button that opens a modal
        self.page = context.new_page()
        self.page.set_default_timeout(15_000)
        self._console: list[str] = []
        self._bad_responses: list[str] = []
        self.page.on("console", lambda msg: msg.type == "error" and self._console.append(msg.text))
        self.page.on("pageerror", lambda exc: self._console.append(f"uncaught: {exc}"))
        self.page.on("response", self._on_response)

    def _on_response(self, response) -> None:
        if response.status >= 400 and urlsplit(response.url).netloc == urlsplit(self.base_url).netloc:
            self._bad_responses.append(f"{response.status} {urlsplit(response.url).path}")

    # ---- discovery -------------------------------------------------------------------------
    def links(self) -> list[str]:
        hrefs = self.page.eval_on_selector_all(
            "nav a[href], main a[href], header a[href], footer a[href]",
            "els => els.filter(e => !e.hasAttribute('download')).map(e => e.href)",
        )
        found = []
        for href in hrefs:
            parts = urlsplit(href)
            if parts.netloc != urlsplit(self.base_url).netloc or SKIP_PATH.search(parts.path):
                continue
            found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        return found

    def walk(self, start_paths: list[str]) -> list[str]:
        queue = list(start_paths)
        seen_patterns: set[str] = set()
        visited: list[str] = []
        while queue and len(visited) < self.max_pages:
            path = queue.pop(0)
            pattern = url_pattern(urlsplit(path).path)
            if pattern in seen_patterns:
                continue
            seen_patterns.add(pattern)
            if not self.visit(path):
                continue
            visited.append(path)
            # Menu links first (they are first in the document), then links found on the page.
            queue.extend(link for link in self.links() if url_pattern(urlsplit(link).path) not in seen_patterns)
        self.report.visited[self.combo] = visited
        return visited

    # ---- checks ----------------------------------------------------------------------------
    def visit(self, path: str) -> bool:
        self._console.clear()
        self._bad_responses.clear()
        started = time.monotonic()
        response = self.page.goto(self.base_url + path, wait_until="load")
        self.report.timed("load", started)
        if response is None:
            return False
        content_type = response.headers.get("content-type", "")
        if "text/html" not in content_type:
            return False  # a file download or JSON: not a page
        self.report.pages += 1
        self.check_page(path, label=None)
        if path not in self.modal_pages and self.page.locator("[data-bs-toggle=modal]").count():
            self.modal_pages.append(path)
        return True

    def check_page(self, path: str, *, label: str | None) -> None:
        where = path if label is None else f"{path} ({label})"
        page = self.page
        page.wait_for_load_state("load")
        for bad in self._bad_responses:
            self.report.add("http", self.combo, where, bad)
        for message in self._console:
            self.report.add("console", self.combo, where, message)
        self._bad_responses.clear()
        self._console.clear()
        started = time.monotonic()
        overflow = page.evaluate(JS_OVERFLOW)
        if overflow:
            self.report.add("overflow", self.combo, where,
                            f"page {overflow['scrollWidth']}px wide on a {overflow['width']}px screen; "
                            f"wide: {', '.join(overflow['wide'])}")
        self.check_language(where)
        self.report.timed("checks", started)
        if self.axe:
            started = time.monotonic()
            self.run_axe(where)
            self.report.timed("axe", started)
        started = time.monotonic()
        self.screenshot(path, label)
        self.report.timed("screenshot", started)

    def check_language(self, where: str) -> None:
        if where.startswith("/admin/"):
            return  # Django admin and its third-party apps (axes, celery beat) bring their own catalogs
        text = self.page.evaluate(JS_TEXT_FOR_LANGUAGE)
        if self.language == "zh-hans":
            # Words in capitals are codes (product codes, CSAT, JPEG), not English sentences.
            words = sorted({w for w in ENGLISH_WORD.findall(text) if w not in ALLOWED_ASCII and not w.isupper()})
            if words:
                self.report.add("english-on-zh", self.combo, where, ", ".join(words[:15]))
        else:
            words = [w for w in CHINESE_UI_WORDS if w in text]
            if words:
                self.report.add("chinese-on-en", self.combo, where, ", ".join(words))

    def run_axe(self, where: str) -> None:
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(path=str(AXE_JS))
        self.report.axe_runs += 1
        for violation in self.page.evaluate(JS_AXE, AXE_TAGS):
            self.report.add(f"axe:{violation['id']}", self.combo, where,
                            f"{violation['help']} ({violation['impact']}): " + " | ".join(violation["targets"]))

    def screenshot(self, path: str, label: str | None) -> None:
        os.makedirs(self.artifacts_dir, exist_ok=True)
        name = url_pattern(urlsplit(path).path).strip("/").replace("/", "_").replace("<", "").replace(">", "")
        name = f"{self.combo}_{name or 'home'}" + (f"_{label}" if label else "")
        self.page.screenshot(path=os.path.join(self.artifacts_dir, "walk", f"{name}.png"), full_page=False)
