"""The Simplified Chinese UI: pages render in zh-hans, and the catalog is complete, unfuzzy and compiled."""

import ast
import gettext
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from tests.customers.factories import CustomerFactory

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
ZH_PO = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po"
ZH_MO = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.mo"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.fixture(autouse=True)
def _restore_language():
    """LocaleMiddleware activates the request's language on this thread; keep it from leaking."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def zh_client(client):
    client.cookies.load({settings.LANGUAGE_COOKIE_NAME: "zh-hans"})
    return client


@pytest.fixture
def rm_zh(zh_client, client_as):
    """A relationship manager browsing in Simplified Chinese, with one customer of their own."""
    rm = client_as("rm")
    rm.customer = CustomerFactory(relationship_manager=rm.user, branch=rm.user.branch)
    return rm


# --- Pages ------------------------------------------------------------------------------------


def test_login_page_in_chinese(zh_client):
    response = zh_client.get(reverse("accounts:login"))
    content = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in content
    assert "登录" in content and "员工登录" in content
    assert "用户名" in content and "密码" in content
    assert "Log in" not in content


def test_login_page_stays_english_without_the_cookie(client):
    content = client.get(reverse("accounts:login")).content.decode()
    assert "Log in" in content and "登录" not in content


def test_customer_list_in_chinese(rm_zh):
    content = rm_zh.get(reverse("customers:customer-list")).content.decode()
    assert "客户号" in content and "手机号" in content
    assert "客户经理" in content and "网点" in content
    assert rm_zh.customer.external_id in content
    assert "Customer number" not in content and "Mobile phone" not in content


def test_customer_360_in_chinese(rm_zh):
    customer = rm_zh.customer
    content = rm_zh.get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    assert "<title>客户全景视图" in content
    assert "查看明文" in content
    assert "身份证号" in content and "将记入审计日志" in content
    for heading in ("基本信息", "财务信息", "风险信息与授权同意", "持有产品", "信用评级", "风险承受能力"):
        assert heading in content
    assert "Reveal" not in content


def test_reveal_fragment_in_chinese(rm_zh):
    customer = rm_zh.customer
    response = rm_zh.post(
        reverse("customers:customer-reveal", args=[customer.pk, "phone"]), headers={"HX-Request": "true"}
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert customer.phone in content and "已记入审计日志" in content


# --- Catalog ----------------------------------------------------------------------------------


def parse_po(path: Path) -> list[dict]:
    """The entries of a .po file: flags, msgid, msgid_plural and msgstr / msgstr[n] (header included)."""
    entries, entry, key = [], None, None
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            if entry is not None:
                entries.append(entry)
            entry, key = None, None
            continue
        if entry is None:
            entry = {"flags": set()}
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return entries


@pytest.fixture(scope="module")
def zh_entries() -> list[dict]:
    entries = parse_po(ZH_PO)
    assert entries[0]["msgid"] == "", "the header comes first"
    return entries


def translations_of(entry: dict) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


def test_catalog_has_no_fuzzy_entries(zh_entries):
    fuzzy = [entry["msgid"] for entry in zh_entries if "fuzzy" in entry["flags"]]
    assert fuzzy == []


def test_catalog_has_no_untranslated_entries(zh_entries):
    messages = zh_entries[1:]
    assert len(messages) > 400
    untranslated = [entry["msgid"] for entry in messages if not all(translations_of(entry))]
    assert untranslated == []


def test_catalog_has_one_plural_form(zh_entries):
    assert "nplurals=1; plural=0;" in zh_entries[0]["msgstr"]
    for entry in zh_entries[1:]:
        if "msgid_plural" in entry:
            assert set(translations_of(entry)) and "msgstr[1]" not in entry, entry["msgid"]


def test_catalog_keeps_placeholders(zh_entries):
    for entry in zh_entries[1:]:
        expected = sorted(PLACEHOLDER.findall(entry.get("msgid_plural", entry["msgid"])))
        for text in translations_of(entry):
            assert sorted(PLACEHOLDER.findall(text)) == expected, entry["msgid"]


@pytest.mark.parametrize(("msgid", "msgstr"), [
    ("customer number", "客户号"),
    ("relationship manager", "客户经理"),
    ("branch manager", "网点负责人"),
    ("complaint desk", "投诉受理岗"),
    ("compliance auditor", "合规审计员"),
    ("administrator", "系统管理员"),
    ("national ID number", "身份证号"),
    ("mobile phone", "手机号"),
    ("total assets (AUM)", "资产总额 (AUM)"),
    ("liabilities", "负债"),
    ("annual income", "年收入"),
    ("credit rating", "信用评级"),
    ("risk tolerance", "风险承受能力"),
    ("Consent", "授权同意"),
    ("data quality issue", "数据质量问题"),
    ("holding", "持有产品"),
    ("transaction", "交易"),
    ("interaction", "客户互动"),
    ("visit", "拜访"),
    ("Customer 360", "客户全景视图"),
    ("Reveal", "查看明文"),
    ("backup relationship manager", "备岗客户经理"),
    ("head office", "总行"),
])
def test_catalog_uses_the_glossary(zh_entries, msgid, msgstr):
    by_id = {entry["msgid"]: entry for entry in zh_entries if "msgctxt" not in entry}
    assert translations_of(by_id[msgid]) == [msgstr]


def test_compiled_catalog_matches_the_po(zh_entries):
    """The committed .mo was compiled from the current .po (run compilemessages after editing)."""
    with ZH_MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in zh_entries[1:]:
        if "msgid_plural" in entry:
            assert compiled.ngettext(entry["msgid"], entry["msgid_plural"], 1) == entry["msgstr[0]"]
        elif "msgctxt" in entry:  # pgettext: one English word, two meanings
            assert compiled.pgettext(entry["msgctxt"], entry["msgid"]) == entry["msgstr"], entry["msgid"]
        else:
            assert compiled.gettext(entry["msgid"]) == entry["msgstr"], entry["msgid"]


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed")
def test_msgfmt_reports_every_message_translated():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(ZH_PO)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "translated message" in result.stderr
    assert "fuzzy" not in result.stderr and "untranslated" not in result.stderr


def test_amounts_are_grouped_in_thousands_in_both_languages():
    for language in ("zh-hans", "en"):
        with translation.override(language):
            rendered = Template("{% load crm_format %}{{ amount|cny }}").render(
                Context({"amount": Decimal("1234567.8")})
            )
        assert rendered == "1,234,567.80"
