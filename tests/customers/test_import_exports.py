"""A regional bank's own exports, imported with mapping files only (issue 11): Chinese headers, a region
instead of a branch, no RM, no account numbers, no transaction type, a numeric credit score, custom
attributes. Every corrupt cell is reported with its row, column and reason; re-importing changes
nothing; truncated and mixed-encoding files leave the database exactly as before; no PII ever
reaches stdout, stderr, the log or the report. The files are generated here, not the shared sample."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import Role
from customers import importing, services
from customers.models import (
    CreditGradePolicy,
    CustomAttribute,
    CustomAttributeType,
    Customer,
    CustomerAttributeValue,
    Holding,
    Transaction,
)
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import ProductFactory, resident_id

pytestmark = pytest.mark.django_db

CUSTOMER_HEADER = ["客户号", "客户姓名", "性别", "出生日期", "证件号码", "手机号码", "所属地区", "信用评分", "年收入",
                   "开户日期"]
HOLDING_HEADER = ["客户号", "产品代码", "开户日期", "余额", "销户日期"]
TRANSACTION_HEADER = ["流水号", "客户号", "交易时间", "金额", "借贷标志", "渠道"]
TABLES = ("customers_customer", "customers_holding", "customers_transaction", "customers_customerattributevalue")


def customer_row(number: int, **changes) -> list[str]:
    birth = date(1970 + number % 30, 1 + number % 12, 1 + number % 28)
    row = {"客户号": f"R{number:05d}", "客户姓名": f"客户{number}", "性别": "男" if number % 2 else "女",
           "出生日期": birth.isoformat(), "证件号码": resident_id(birth_date=birth), "手机号码": f"139{number:08d}",
           "所属地区": ["北京朝阳", "北京海淀"][number % 2], "信用评分": str(300 + (number * 37) % 551),
           "年收入": "120,000.00", "开户日期": "2015-06-01"}
    row.update(changes)
    return [row[column] for column in CUSTOMER_HEADER]


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture
def regional_bank(db, tmp_path):
    """Branches the regions map to, one RM, the products held, and the three export files."""
    BranchFactory(code="B0101", name="Chaoyang Branch")
    BranchFactory(code="B0202", name="Haidian Branch")
    for code in ("DEP01", "WM01"):
        ProductFactory(code=code)
    customers = [customer_row(number) for number in range(1, 21)]
    customers += [
        customer_row(21, 出生日期="1987-02-31"),          # row 21: not a date -> rejected
        customer_row(22, 所属地区="火星"),                 # row 22: region not in the lookup -> rejected
        customer_row(23, 信用评分="900"),                  # row 23: score out of 300-850 -> rejected
        customer_row(24, 性别="X"),                        # row 24: unknown gender, on_error blank -> warning
        customer_row(25, 出生日期="2090-01-01", 证件号码=""),  # row 25: birth date in the future -> rejected
    ]
    holdings = [[f"R{n:05d}", "DEP01", "2020-01-0" + str(1 + n % 9), "5,000.00", ""] for n in range(1, 11)]
    holdings += [["R00001", "WM01", "2021-03-01", "", ""],               # a second product, balance default 0
                 ["R00001", "DEP01", "2022-01-01", "10.00", "2021-01-01"]]  # closed before opened -> rejected
    transactions = [[f"T{n:06d}", f"R{1 + n % 10:05d}", "2024-05-01 10:00:00", "88.00", "借" if n % 2 else "贷",
                     "网银"] for n in range(1, 31)]
    transactions.append(["T999999", "R99999", "2024-05-01 10:00:00", "1.00", "借", "柜面"])  # unknown customer
    return {
        "customers": write_csv(tmp_path / "客户.csv", CUSTOMER_HEADER, customers, encoding="gbk"),
        "holdings": write_csv(tmp_path / "持有.csv", HOLDING_HEADER, holdings),
        "transactions": write_csv(tmp_path / "流水.csv", TRANSACTION_HEADER, transactions, encoding="utf-8-sig"),
    }


def run(path: Path, mapping: str | importing.Mapping, *, dry_run: bool = False):
    mapping = mapping if isinstance(mapping, importing.Mapping) else importing.mapping_load(name_or_path=mapping)
    report = io.StringIO()
    with path.open("rb") as source:
        result = services.import_run(source=source, file_name=path.name, mapping=mapping,
                                     bytes_total=path.stat().st_size, by=None, report_stream=report, dry_run=dry_run)
    result.check()
    return result, list(csv.DictReader(io.StringIO(report.getvalue().lstrip("\ufeff"))))


def database_state() -> dict[str, tuple]:
    """Row count and a checksum of every row of the tables an import writes."""
    state = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
                           f"FROM {table} t")
            state[table] = cursor.fetchone()
    return state


def import_all(files) -> dict[str, tuple]:
    results = {}
    for kind in ("customers", "holdings", "transactions"):
        results[kind] = run(files[kind], f"regional_bank_{kind}")
    return results


# --- The three files --------------------------------------------------------------------------


def test_three_exports_import_with_mapping_files_only(regional_bank):
    results = import_all(regional_bank)

    customers, customer_report = results["customers"]
    assert (customers.read, customers.created, customers.rejected) == (25, 21, 4)
    problems = {(line["row"], line["column"]): line["reason"] for line in customer_report}
    assert "not a valid date" in problems[("21", "出生日期")]
    assert "lookup table" in problems[("22", "所属地区")]
    assert "300 to 850" in problems[("23", "信用评分")]
    assert "1900-01-01 and today" in problems[("25", "出生日期")]
    assert problems[("24", "性别")].startswith("warning: ") and "imported empty" in problems[("24", "性别")]
    assert problems[("header", "电子邮箱")].startswith("warning: optional column absent")
    assert customers.warnings == ["电子邮箱: optional column absent from the file: field 'email' not imported"]

    # region -> branch through the lookup table, no RM (the branch's unassigned list), score -> grade
    first = Customer.objects.get(external_id="R00001")
    assert (first.region, first.branch.code, first.relationship_manager_id) == ("北京海淀", "B0202", None)
    policy = CreditGradePolicy.objects.get(version=1)
    assert first.credit_score == 337 and first.credit_rating == policy.grade_for(337) == "C"
    assert first.credit_grade_policy_id == policy.pk
    assert Customer.objects.get(external_id="R00024").gender == "unknown"
    assert Customer.objects.filter(status="active", preferred_channel="branch").count() == 21

    holdings, holding_report = results["holdings"]
    assert (holdings.created, holdings.rejected) == (11, 1)
    assert [(line["row"], line["column"]) for line in holding_report] == [("12", "销户日期")]
    assert Holding.objects.get(external_ref="R00001|WM01|2021-03-01").balance == 0

    transactions, transaction_report = results["transactions"]
    assert (transactions.created, transactions.rejected) == (30, 1)
    assert transaction_report[0]["column"] == "客户号" and "unknown customer" in transaction_report[0]["reason"]
    assert set(Transaction.objects.values_list("type", flat=True)) == {"transfer"}


def test_reimporting_the_three_files_changes_nothing(regional_bank):
    import_all(regional_bank)
    before = database_state()

    again = import_all(regional_bank)

    assert database_state() == before
    for kind, (result, _report) in again.items():
        assert (result.created, result.updated) == (0, 0), kind


def test_an_email_has_no_blind_index_and_is_compared_decrypted(regional_bank, tmp_path):
    """A PII column without a blind index (the e-mail): re-importing the same address changes nothing,
    a new address updates the row and is stored encrypted."""
    header = [*CUSTOMER_HEADER, "电子邮箱"]
    rows = [[*customer_row(number), f"c{number}@example.cn"] for number in (1, 2, 3)]
    first, _report = run(write_csv(tmp_path / "a.csv", header, rows), "regional_bank_customers")
    assert first.created == 3
    again, _report = run(write_csv(tmp_path / "b.csv", header, rows), "regional_bank_customers")
    assert (again.updated, again.unchanged) == (0, 3)
    rows[1][-1] = "new.address@example.cn"

    changed, _report = run(write_csv(tmp_path / "c.csv", header, rows), "regional_bank_customers")

    assert (changed.updated, changed.unchanged) == (1, 2)
    assert Customer.objects.get(external_id="R00002").email == "new.address@example.cn"
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM customers_customer WHERE external_id = 'R00002'")
        assert "example.cn" not in cursor.fetchone()[0]


def test_dry_run_checks_everything_and_writes_nothing(regional_bank):
    before = database_state()

    result, report = run(regional_bank["customers"], "regional_bank_customers", dry_run=True)

    assert (result.read, result.created, result.rejected) == (25, 21, 4)
    assert len([line for line in report if not line["reason"].startswith("warning")]) == 4
    assert database_state() == before


# --- All or nothing for the file's structure ----------------------------------------------------


def test_a_truncated_file_leaves_the_database_exactly_as_before(regional_bank, tmp_path):
    import_all(regional_bank)
    before = database_state()
    rows = [customer_row(number, 客户姓名=f"改名{number}") for number in range(1, 30)]
    content = write_csv(tmp_path / "cut.csv", CUSTOMER_HEADER, rows).read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(content[: len(content) - 40])  # the export stopped in the middle of the last line

    with pytest.raises(importing.ImportFileError, match="truncated"):
        run(cut, "regional_bank_customers")

    assert database_state() == before


def test_a_file_whose_encoding_changes_midway_leaves_the_database_exactly_as_before(regional_bank, tmp_path):
    import_all(regional_bank)
    before = database_state()
    utf8_part = write_csv(tmp_path / "a.csv", CUSTOMER_HEADER,
                          [customer_row(n, 客户姓名=f"新名{n}") for n in range(1, 3000)]).read_bytes()
    gbk_part = "\r\n".join(",".join(customer_row(n, 客户姓名="旧名")) for n in range(3000, 3010)).encode("gbk")
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(utf8_part + gbk_part + b"\r\n")

    with pytest.raises(importing.ImportFileError, match="stops being valid utf-8"):
        run(mixed, "regional_bank_customers")

    assert database_state() == before


# --- Mappings ---------------------------------------------------------------------------------


def test_range_value_map_and_constants(db, tmp_path):
    """A score column mapped by ranges to the grade; a branch by default; a type as a constant."""
    BranchFactory(code="B0101")
    mapping = importing.mapping_parse(raw={
        "kind": "customers", "fields": {"branch": {"default": "B0101"}},
        "columns": {"NO": "external_id", "NAME": "name",
                    "SCORE": {"field": "credit_rating", "values": [[[300, 579], "C"], [[580, 699], "BB"],
                                                                   [[700, 850], "A"]]}},
    })
    path = write_csv(tmp_path / "x.csv", ["NO", "NAME", "SCORE"], [["N1", "甲", "580"], ["N2", "乙", "299"]])

    result, report = run(path, mapping)

    assert (result.created, result.rejected) == (1, 1)
    assert Customer.objects.get(external_id="N1").credit_rating == "BB"
    assert "outside every range" in report[0]["reason"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"values": [[[300, 600], "C"], [[500, 850], "A"]]}, "overlap"),
        ({"on_error": "skip"}, "'reject' or 'blank'"),
        ({"lookup": "nowhere"}, "not in 'lookups'"),
    ],
)
def test_mapping_errors_are_named(raw, message):
    with pytest.raises(importing.ImportMappingError, match=message):
        importing.mapping_parse(raw={"kind": "customers", "columns": {
            "NO": "external_id", "NAME": "name", "ORG": "branch", "SCORE": {"field": "credit_rating", **raw}}})


# --- Custom attributes -------------------------------------------------------------------------


def test_custom_attributes_are_typed_stored_and_reimported_unchanged(regional_bank, tmp_path):
    CustomAttribute.objects.create(code="monthly_salary", type=CustomAttributeType.NUMBER, unit="CNY",
                                   label_zh="月工资", label_en="Monthly salary")
    CustomAttribute.objects.create(code="segment_code", type=CustomAttributeType.CHOICE, choices=["S1", "S2"],
                                   label_zh="分群代码", label_en="Segment code")
    raw = json.loads((importing.MAPPINGS_DIR / "regional_bank_customers.json").read_text(encoding="utf-8"))
    raw["columns"]["月工资"] = {"field": "attr:monthly_salary", "on_error": "blank"}
    raw["columns"]["分群"] = "attr:segment_code"
    mapping = importing.mapping_parse(raw=raw, name="with_attributes")
    header = [*CUSTOMER_HEADER, "月工资", "分群"]
    rows = [[*customer_row(1), "8500.50", "S1"], [*customer_row(2), "很多", "S2"], [*customer_row(3), "", "S9"]]
    path = write_csv(tmp_path / "attrs.csv", header, rows)

    result, report = run(path, mapping)

    assert (result.created, result.rejected) == (2, 1)
    values = {(v.customer.external_id, v.attribute.code): v.value for v in
              CustomerAttributeValue.objects.select_related("customer", "attribute")}
    assert values == {("R00001", "monthly_salary"): 8500.5, ("R00001", "segment_code"): "S1",
                      ("R00002", "segment_code"): "S2"}
    assert {(line["row"], line["column"]) for line in report} >= {("2", "月工资"), ("3", "分群")}
    before = database_state()
    run(path, mapping)
    assert database_state() == before


# --- No PII anywhere -----------------------------------------------------------------------------

PLANTED_NAME = "欧阳植入"
PLANTED_BIRTH = date(1979, 4, 5)
PLANTED_ID = resident_id(birth_date=PLANTED_BIRTH)


def test_planted_pii_never_reaches_stdout_stderr_the_log_or_the_report(regional_bank, tmp_path, capsys, caplog):
    """A row the database refuses (a constraint no row check covers) and rows with defects carry a
    known name and ID number; the import reports them and imports the rest, and neither value
    appears in any output."""
    UserFactory(staff_number="RM9", roles=[Role.RELATIONSHIP_MANAGER])
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE customers_customer ADD CONSTRAINT test_refuse_planted "
                       f"CHECK (name <> '{PLANTED_NAME}')")
    rows = [customer_row(n) for n in range(1, 6)]
    rows.append(customer_row(6, 客户姓名=PLANTED_NAME, 出生日期=PLANTED_BIRTH.isoformat(), 证件号码=PLANTED_ID,
                             年收入="987,654.32"))                                  # refused by the database
    rows.append(customer_row(7, 客户姓名=PLANTED_NAME, 证件号码=PLANTED_ID))        # ID / birth date mismatch
    rows.append(customer_row(8, 客户姓名=PLANTED_NAME, 证件号码=PLANTED_ID[:17] + "Y"))  # not an ID number
    path = write_csv(tmp_path / "planted.csv", CUSTOMER_HEADER, rows)
    report_path = tmp_path / "planted.errors.csv"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SystemExit) as exit_info:
        call_command("import_customers", str(path), "--mapping", "regional_bank_customers",
                     "--report", str(report_path), "--batch-size", "4")

    assert exit_info.value.code == 1
    assert Customer.objects.filter(external_id__in=[f"R{n:05d}" for n in range(1, 6)]).count() == 5
    report = report_path.read_text(encoding="utf-8-sig")
    assert "refused by the database (test_refuse_planted)" in report
    captured = capsys.readouterr()
    everything = "\n".join([captured.out, captured.err, caplog.text, report])
    for planted in (PLANTED_NAME, PLANTED_ID, PLANTED_ID[:17], "987654.32", "987,654.32", "1979-04-05"):
        assert planted not in everything


def test_a_structural_failure_is_a_clean_exit_2(regional_bank, tmp_path, capsys):
    cut = tmp_path / "cut.csv"
    cut.write_bytes(regional_bank["customers"].read_bytes()[:-25])

    with pytest.raises(CommandError, match="truncated") as error:
        call_command("import_customers", str(cut), "--mapping", "regional_bank_customers", "--no-progress")

    assert error.value.returncode == 2
    assert Customer.objects.count() == 0
