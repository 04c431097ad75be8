"""Imports from core-banking exports: mapping, encodings, row checks, upsert idempotence, report, admin job."""

from __future__ import annotations

import csv
import io
import shutil
import threading
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Role
from core import crypto
from core.errors import ApplicationError
from core.models import AuditEvent, OutboxMessage
from customers import importing, services, tasks
from customers.models import Customer, ImportJob, ImportJobStatus, Transaction
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory, ProductFactory, resident_id

SAMPLE = Path(__file__).parent / "data" / "core_banking_customers_sample.csv"
MAPPING = "core_banking_customers"
HEADER = ("CUST_NO,CUST_NAME,SEX_CD,BIRTH_DT,CERT_TYPE,CERT_NO,MOBILE,OPEN_DT,ORG_NO,MGR_NO,AUM_BAL,"
          "ANNUAL_INCOME,RISK_LVL,CUST_STAT,CLOSE_DT")
# Sample defects (README): data row -> (column, words in the reason).
SAMPLE_DEFECTS = {
    4: ("BIRTH_DT", "not a valid date"),
    8: ("CERT_NO", "check character"),
    12: ("CUST_NAME", "required value is missing"),
    16: ("CUST_NO", "repeats the key of row 15"),
    20: ("AUM_BAL", "not a number"),
    24: ("MOBILE", "mobile number"),
    28: ("SEX_CD", "unknown code"),
}


@pytest.fixture
def core_banking_org(db):
    """The branches and RMs the sample refers to by ORG_NO and MGR_NO."""
    branches = {code: BranchFactory(code=code, name=f"Branch {code}") for code in ("0101", "0102", "0205")}
    for staff_number, code in (("E1001", "0101"), ("E1002", "0102"), ("E2001", "0205")):
        UserFactory(username=f"rm_{staff_number}", staff_number=staff_number, branch=branches[code],
                    roles=[Role.RELATIONSHIP_MANAGER])
    return branches


def run_import(path: Path, *, mapping: str = MAPPING, batch_size: int = 2000):
    """Import a file through the service; return (result, report rows as dicts)."""
    report = io.StringIO()
    with path.open("rb") as source:
        result = services.import_run(
            source=source, file_name=path.name, mapping=importing.mapping_load(name_or_path=mapping),
            bytes_total=path.stat().st_size, by=None, report_stream=report, batch_size=batch_size,
        )
    assert result.read == result.created + result.updated + result.unchanged + result.rejected
    text = report.getvalue()
    assert text.startswith("\ufeff")
    return result, list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def sample_lines() -> list[str]:
    return SAMPLE.read_bytes().decode("gbk").splitlines()


def valid_line(external_id: str = "700000000001", *, name: str = "王芳", phone: str = "13912345678",
               aum: str = "1000.00", birth: date = date(1980, 5, 17)) -> str:
    return (f"{external_id},{name},2,{birth:%Y%m%d},10,{resident_id(birth_date=birth)},{phone},20150101,"
            f"0101,E1001,{aum},50000.00,R3,A,")


def write(tmp_path: Path, lines: list[str], *, encoding: str = "utf-8", name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


# --- The shipped sample ---------------------------------------------------------------------


def test_sample_imports_53_rows_and_rejects_the_7_defects(core_banking_org):
    """The GBK sample: 60 read, 53 created, rows 4/8/12/16/20/24/28 rejected with column and reason."""
    result, report = run_import(SAMPLE)

    assert result.counts() == {"read": 60, "created": 53, "updated": 0, "unchanged": 0, "rejected": 7}
    assert result.encoding == "gb18030"
    assert Customer.objects.count() == 53
    assert {int(line["row"]) for line in report} == set(SAMPLE_DEFECTS)
    for line in report:
        column, reason = SAMPLE_DEFECTS[int(line["row"])]
        assert line["column"] == column
        assert reason in line["reason"]
    first = Customer.objects.select_related("branch", "relationship_manager").get(external_id="625186497579")
    assert (first.name, first.gender, first.birth_date) == ("吴建国", "female", date(1963, 7, 15))
    assert first.id_number == "440106196307150402"
    assert first.phone == "18449008934"
    assert first.branch.code == "0101"
    assert first.relationship_manager.staff_number == "E1001"
    assert first.total_assets == Decimal("10849.37")
    assert first.risk_tolerance == "R2"
    closed = Customer.objects.get(external_id="691860363700")
    assert (closed.status, closed.closed_on) == ("closed", date(2024, 8, 11))
    # The blind indexes were written, so exact search finds the imported customer.
    assert first.phone_bidx == crypto.blind_index(kind="phone", value="18449008934")
    assert first.id_number_bidx == crypto.blind_index(kind="id_number", value="440106196307150402")
    assert Customer.objects.filter(phone_bidx=first.phone_bidx).count() == 1
    # Rows are COPYed, not saved: what save() would set is set all the same.
    assert first.created_at and first.updated_at and first.info_updated_at
    assert (first.consent_marketing, first.email) == ("unknown", None)
    # The completeness score is computed by the database on COPY too (a generated column).
    key_fields = (first.name.strip(), first.gender != "unknown", first.birth_date, first.occupation.strip(),
                  first.phone, first.id_number, first.total_assets is not None, first.liabilities is not None,
                  first.annual_income is not None, first.preferred_channel, first.credit_rating, first.risk_tolerance)
    assert first.completeness_score == sum(1 for present in key_fields if present) * 100 // 12 > 0


def test_reimporting_the_sample_changes_nothing(core_banking_org):
    """Re-running the same file: 0 created, 0 updated, 53 unchanged, the same 7 rejected."""
    run_import(SAMPLE)
    updated_at_before = dict(Customer.objects.values_list("external_id", "updated_at"))

    result, report = run_import(SAMPLE, batch_size=7)

    assert result.counts() == {"read": 60, "created": 0, "updated": 0, "unchanged": 53, "rejected": 7}
    assert len(report) == 7
    assert dict(Customer.objects.values_list("external_id", "updated_at")) == updated_at_before


def test_a_changed_row_is_updated_and_nothing_else(core_banking_org, tmp_path):
    """One row with a new phone and amount: updated 1, the rest unchanged; the blind index follows."""
    run_import(SAMPLE)
    lines = sample_lines()
    lines[1] = lines[1].replace("18449008934", "13700001111").replace("10849.37", "20000.00")
    changed = write(tmp_path, lines, encoding="gbk")

    result, _report = run_import(changed)

    assert result.counts() == {"read": 60, "created": 0, "updated": 1, "unchanged": 52, "rejected": 7}
    customer = Customer.objects.get(external_id="625186497579")
    assert customer.phone == "13700001111"
    assert customer.total_assets == Decimal("20000.00")
    assert customer.phone_bidx == crypto.blind_index(kind="phone", value="13700001111")


def test_an_update_writes_what_changed_and_keeps_the_other_pii_ciphertext(core_banking_org, tmp_path):
    """Only the amount changes: the stored ID number and phone keep their very ciphertext (not
    re-encrypted), the customer's update times move, the other customers' rows are untouched."""
    from django.db import connection

    def stored() -> dict[str, tuple]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT external_id, id_number, phone, phone_bidx, total_assets, updated_at, "
                           "info_updated_at FROM customers_customer")
            return {row[0]: row[1:] for row in cursor.fetchall()}

    run_import(SAMPLE)
    before = stored()
    lines = sample_lines()
    lines[1] = lines[1].replace("10849.37", "20000.00")

    result, _report = run_import(write(tmp_path, lines, encoding="gbk"), batch_size=5)

    assert (result.updated, result.unchanged) == (1, 52)
    after = stored()
    old, new = before.pop("625186497579"), after.pop("625186497579")
    assert new[:3] == old[:3]  # id_number, phone and its blind index: the same bytes
    assert (old[3], new[3]) == (Decimal("10849.37"), Decimal("20000.00"))
    assert new[4] > old[4] and new[5] > old[5]
    assert after == before


def test_a_blank_cell_clears_a_stored_phone_that_has_no_blind_index(core_banking_org, tmp_path):
    """A legacy phone that normalises to nothing ("无") has no blind index: the update path decrypts it to
    compare, so the export's blank cell clears it as documented (compared by blind index it looked equal)."""
    path = write(tmp_path, [HEADER, valid_line("700000000001")])
    run_import(path)
    legacy = Customer.objects.get(external_id="700000000001")
    legacy.phone = "无"
    legacy.save()
    assert Customer.objects.get(pk=legacy.pk).phone_bidx is None

    result, _report = run_import(write(tmp_path, [HEADER, valid_line("700000000001", phone="")], name="b.csv"))

    assert (result.updated, result.unchanged) == (1, 0)
    assert Customer.objects.get(pk=legacy.pk).phone in ("", None)


def test_report_masks_pii(core_banking_org):
    """The report shows the phone and ID number masked, never in full."""
    _result, report = run_import(SAMPLE)
    by_row = {int(line["row"]): line for line in report}

    # Ten digits are too short to keep 3 + 4 visible and hide 4: starred in full.
    assert by_row[24]["value"] == "*" * 10
    assert by_row[8]["value"].startswith("320") and "*" in by_row[8]["value"]
    raw_row_8 = sample_lines()[8].split(",")
    assert raw_row_8[5] not in "".join(line["value"] for line in report)
    assert by_row[20]["value"] == "12,345.6O"


# --- Encodings and malformed files -------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_utf8_bom_utf8_and_gbk_files_import_alike(core_banking_org, tmp_path, encoding):
    """The same rows in UTF-8, UTF-8 with BOM and GBK import identically."""
    path = write(tmp_path, [HEADER, valid_line("700000000001"), valid_line("700000000002", name="李娜")],
                 encoding=encoding)

    result, report = run_import(path)

    assert (result.created, result.rejected, report) == (2, 0, [])
    assert set(Customer.objects.values_list("name", flat=True)) == {"王芳", "李娜"}
    assert result.encoding == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gb18030"}[encoding]


def test_undecodable_file_is_a_clear_error(core_banking_org, tmp_path):
    """Bytes that are neither UTF-8 nor GB18030 stop the import before anything is written."""
    path = tmp_path / "binary.csv"
    path.write_bytes(b"CUST_NO\r\n\x80\x80\xff\xfe\x00" * 10)

    with pytest.raises(importing.ImportFileError, match="neither UTF-8 nor GBK"):
        run_import(path)
    assert Customer.objects.count() == 0


# Truncated files and files whose encoding changes midway: tests/customers/test_import_exports.py.


def test_missing_required_column_in_header_writes_nothing(core_banking_org, tmp_path):
    """A header without ORG_NO: a clear error naming it, before any row is written."""
    header = HEADER.replace("ORG_NO,", "")
    line = valid_line().replace(",0101,", ",")
    path = write(tmp_path, [header, line])

    with pytest.raises(importing.ImportFileError, match="ORG_NO"):
        run_import(path)
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"birth": "19870231"}, "BIRTH_DT", "not a valid date"),
        ({"aum": "1O00.00"}, "AUM_BAL", "not a number"),
        ({"aum": "1.005"}, "AUM_BAL", "2 decimal places"),
        ({"phone": "23912345678"}, "MOBILE", "mobile number"),
        ({"id": "110105199001010010"}, "CERT_NO", "birth date in the ID number"),
        ({"org": "9999"}, "ORG_NO", "unknown branch code"),
        ({"mgr": "X9"}, "MGR_NO", "No active relationship manager"),
        ({"stat": "Z"}, "CUST_STAT", "unknown code"),
        ({"close": "20240101"}, "CLOSE_DT", "active customer"),
    ],
)
def test_row_checks(core_banking_org, tmp_path, changes, column, reason):
    """Each defect rejects its row with the column and reason; the good row still imports."""
    cells = valid_line("700000000002").split(",")
    positions = {"birth": 3, "id": 5, "phone": 6, "org": 8, "mgr": 9, "aum": 10, "stat": 13, "close": 14}
    for key, value in changes.items():
        cells[positions[key]] = value
    if "id" in changes:
        first_17 = changes["id"][:17]
        cells[5] = first_17 + services.resident_id_check_character(first_17)
    path = write(tmp_path, [HEADER, valid_line("700000000001"), ",".join(cells)])

    result, report = run_import(path)

    assert (result.created, result.rejected) == (1, 1)
    assert [(line["row"], line["column"]) for line in report] == [("2", column)]
    assert reason in report[0]["reason"]


# --- Mapping ---------------------------------------------------------------------------------


def test_mapping_with_unknown_field_is_refused_before_reading():
    """An unknown target field is a clear mapping error naming the column and the field."""
    with pytest.raises(importing.ImportMappingError, match="'SEX_CD' maps to unknown field 'sex'"):
        importing.mapping_parse(raw={"kind": "customers", "columns": {
            "CUST_NO": "external_id", "CUST_NAME": "name", "ORG_NO": "branch", "SEX_CD": "sex"}})


def test_mapping_value_map_must_name_valid_choices():
    with pytest.raises(importing.ImportMappingError, match="not among 'gender'"):
        importing.mapping_parse(raw={"kind": "customers", "columns": {
            "CUST_NO": "external_id", "CUST_NAME": "name", "ORG_NO": "branch",
            "SEX": {"field": "gender", "values": {"F": "woman"}}}})


def test_mapping_must_cover_required_fields():
    with pytest.raises(importing.ImportMappingError, match="needs columns for \\['branch'\\]"):
        importing.mapping_parse(raw={"kind": "customers", "columns": {"CUST_NO": "external_id", "N": "name"}})


def test_shipped_mappings_are_valid():
    assert {"core_banking_customers", "core_banking_holdings", "core_banking_transactions"} <= set(
        importing.mapping_names())
    for name in importing.mapping_names():
        importing.mapping_load(name_or_path=name)


def test_custom_mapping_with_other_names_and_codes(core_banking_org, tmp_path):
    """Another bank's names and codes (F/女 -> female, dashed dates) import through its own mapping."""
    mapping_path = tmp_path / "other_bank.json"
    mapping_path.write_text(
        '{"kind": "customers", "columns": {"客户号": "external_id", "姓名": "name", "机构": "branch",'
        ' "性别": {"field": "gender", "values": {"F": "female", "女": "female", "M": "male"}},'
        ' "生日": {"field": "birth_date", "format": "%Y-%m-%d"}}}', encoding="utf-8")
    path = write(tmp_path, ["客户号,姓名,机构,性别,生日", "A1,王芳,0101,女,1980-05-17", "A2,李娜,0102,F,1990-01-02"],
                 encoding="utf-8-sig")

    result, _report = run_import(path, mapping=str(mapping_path))

    assert result.created == 2
    assert set(Customer.objects.values_list("gender", flat=True)) == {"female"}


# --- The command ------------------------------------------------------------------------------


def test_command_exit_code_1_with_rejections_and_writes_report(core_banking_org, tmp_path, capsys):
    """Rows rejected: summary printed, report written, exit code 1, one audit row without PII."""
    source = tmp_path / "sample.csv"
    shutil.copy(SAMPLE, source)
    report = tmp_path / "report.csv"

    with pytest.raises(SystemExit) as exited:
        call_command("import_customers", str(source), "--mapping", MAPPING, "--report", str(report))

    assert exited.value.code == 1
    assert "created 53" in capsys.readouterr().out
    lines = report.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,value,reason" and len(lines) == 8
    event = AuditEvent.objects.get(action="customers.import")
    assert event.detail["created"] == 53 and event.detail["file"] == "sample.csv"
    assert "18449008934" not in str(event.detail)


def test_command_exit_code_0_when_all_rows_import(core_banking_org, tmp_path):
    path = write(tmp_path, [HEADER, valid_line()])
    call_command("import_customers", str(path), "--mapping", MAPPING, "--no-progress")
    assert Customer.objects.filter(external_id="700000000001").exists()


def test_command_refuses_mapping_of_another_kind(core_banking_org, tmp_path):
    path = write(tmp_path, [HEADER, valid_line()])
    with pytest.raises(CommandError, match="is for transactions"):
        call_command("import_customers", str(path), "--mapping", "core_banking_transactions")


# --- Transactions and holdings -------------------------------------------------------------------

TXN_HEADER = "TXN_NO,CUST_NO,TXN_TM,TXN_AMT,DR_CR_FLG,CHNL_CD,TXN_TYPE"


def test_transactions_import_is_idempotent(branch, tmp_path):
    """Transactions upsert on external_ref: re-importing reports every row unchanged."""
    customer = CustomerFactory(branch=branch, external_id="C1")
    path = write(tmp_path, [
        TXN_HEADER,
        "T1,C1,20250102093000,100.00,C,01,1001",
        "T2,C1,20250102100000,\"1,250.50\",D,04,2002",
        "T3,C404,20250102100000,5.00,D,04,2002",
        "T4,C1,20250102100000,0.00,D,04,2002",
    ], encoding="gbk")

    first, report = run_import(path, mapping="core_banking_transactions")
    second, _ = run_import(path, mapping="core_banking_transactions")

    assert first.counts() == {"read": 4, "created": 2, "updated": 0, "unchanged": 0, "rejected": 2}
    assert [(line["row"], line["column"]) for line in report] == [("3", "CUST_NO"), ("4", "TXN_AMT")]
    assert second.counts() == {"read": 4, "created": 0, "updated": 0, "unchanged": 2, "rejected": 2}
    t2 = Transaction.objects.get(external_ref="T2")
    assert (t2.customer_id, t2.amount, t2.direction, t2.channel, t2.type) == (
        customer.pk, Decimal("1250.50"), "out", "mobile", "payment")


def test_holdings_import_upserts_on_external_ref(branch, tmp_path):
    """Holdings: created, then updated when the balance changes, unchanged otherwise."""
    CustomerFactory(branch=branch, external_id="C1")
    ProductFactory(code="DEP01")
    lines = ["ACCT_NO,CUST_NO,PROD_CD,BAL,OPEN_DT,CLOSE_DT", "A1,C1,DEP01,100.00,20200101,",
             "A2,C1,DEP01,5.00,20200101,20190101"]
    first, report = run_import(write(tmp_path, lines), mapping="core_banking_holdings")
    lines[1] = "A1,C1,DEP01,200.00,20200101,"
    second, _ = run_import(write(tmp_path, lines), mapping="core_banking_holdings")

    assert (first.created, first.rejected, report[0]["column"]) == (1, 1, "CLOSE_DT")
    assert (second.updated, second.unchanged, second.rejected) == (1, 0, 1)


# --- Admin upload, job and task ----------------------------------------------------------------


@pytest.fixture
def admin_client(client, core_banking_org):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    client.user = superuser
    return client


def upload(client):
    return client.post(reverse("admin:customers_importjob_add"), {
        "mapping": MAPPING,
        "source_file": SimpleUploadedFile("sample.csv", SAMPLE.read_bytes(), content_type="text/csv"),
    })


def test_admin_upload_creates_job_queues_task_and_the_task_completes_it(admin_client):
    """Upload -> a queued job and its outbox message; running the task -> done with counters and report."""
    response = upload(admin_client)

    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.kind, job.status, job.mapping, job.created_by) == ("customers", "queued", MAPPING, admin_client.user)
    message = OutboxMessage.objects.get(task_name="customers.import_job_run_task")
    assert message.kwargs == {"job_id": job.pk}

    tasks.import_job_run_task.apply(kwargs=message.kwargs, task_id=str(message.uuid))

    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE
    assert (job.rows_read, job.rows_created, job.rows_updated, job.rows_unchanged, job.rows_rejected) == (
        60, 53, 0, 0, 7)
    assert job.progress_percent == 100
    report = job.report_file.open("rb").read().decode("utf-8-sig")
    assert len(report.splitlines()) == 8
    # Redelivery of the same message does nothing.
    tasks.import_job_run_task.apply(kwargs=message.kwargs, task_id=str(message.uuid))
    assert Customer.objects.count() == 53

    page = admin_client.get(reverse("admin:customers_importjob_change", args=[job.pk]))
    assert page.status_code == 200
    assert reverse("admin:customers_importjob_report", args=[job.pk]).encode() in page.content
    download = admin_client.get(reverse("admin:customers_importjob_report", args=[job.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).decode("utf-8-sig") == report


def test_running_job_page_refreshes(admin_client):
    upload(admin_client)
    job = ImportJob.objects.get()
    page = admin_client.get(reverse("admin:customers_importjob_change", args=[job.pk]))
    assert b'http-equiv="refresh"' in page.content


def test_failed_job_records_the_error(admin_client):
    admin_client.post(reverse("admin:customers_importjob_add"), {
        "mapping": MAPPING, "source_file": SimpleUploadedFile("x.csv", b"A,B\r\n1,2\r\n"),
    })
    job = ImportJob.objects.get()
    tasks.import_job_run_task.apply(kwargs={"job_id": job.pk}, task_id="t-1")
    job.refresh_from_db()
    assert job.status == ImportJobStatus.FAILED
    assert "CUST_NO" in job.error


def test_customer_changelist_links_to_the_import(admin_client):
    page = admin_client.get(reverse("admin:customers_customer_changelist"))
    assert reverse("admin:customers_importjob_add").encode() in page.content


@pytest.mark.parametrize("role", ["rm", "branch_manager", "auditor"])
def test_non_admin_staff_cannot_open_or_post_the_import(client_as, role):
    """Staff who are not administrators get 403 (or the admin login) and no job is created."""
    client = client_as(role)
    client.user.is_staff = True
    client.user.save()

    get = client.get(reverse("admin:customers_importjob_add"))
    post = client.post(reverse("admin:customers_importjob_add"), {
        "mapping": MAPPING, "source_file": SimpleUploadedFile("s.csv", SAMPLE.read_bytes())})

    assert get.status_code in (302, 403)
    assert post.status_code in (302, 403)
    assert ImportJob.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_import_job_create_refuses_non_admin(user_for_role):
    rm = user_for_role("rm")
    with pytest.raises(ApplicationError):
        services.import_job_create(mapping_name=MAPPING, uploaded_file=SimpleUploadedFile("s.csv", b"x"), by=rm)
    assert ImportJob.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_transaction_batches_are_written_by_a_second_thread_with_the_same_result(monkeypatch):
    """Committed data (no test transaction): parsing and writing overlap, the outcome is the same."""
    branches = {code: BranchFactory(code=code, name=f"Branch {code}") for code in ("0101", "0102", "0205")}
    for staff_number, code in (("E1001", "0101"), ("E1002", "0102"), ("E2001", "0205")):
        UserFactory(username=f"rm_{staff_number}", staff_number=staff_number, branch=branches[code],
                    roles=[Role.RELATIONSHIP_MANAGER])
    writer_threads = []
    original_work = importing._BatchWriter._work

    def spy(self):
        writer_threads.append(threading.current_thread().name)
        original_work(self)

    monkeypatch.setattr(importing._BatchWriter, "_work", spy)
    result, report = run_import(SAMPLE, batch_size=7)  # 9 batches through the queue

    assert writer_threads == ["import-writer"]
    assert result.counts() == {"read": 60, "created": 53, "updated": 0, "unchanged": 0, "rejected": 7}
    assert {int(line["row"]) for line in report} == set(SAMPLE_DEFECTS)
    assert Customer.objects.count() == 53
    again, _ = run_import(SAMPLE, batch_size=7)
    assert again.counts() == {"read": 60, "created": 0, "updated": 0, "unchanged": 53, "rejected": 7}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_error_in_the_writer_thread_stops_the_import_and_reaches_the_caller(monkeypatch):
    BranchFactory(code="0101")

    def broken_flush(self, batch):
        raise RuntimeError("writer failed")

    monkeypatch.setattr(importing._Importer, "_flush", broken_flush)
    with pytest.raises(RuntimeError, match="writer failed"):
        run_import(SAMPLE, batch_size=7)
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("date_format", ["%Y%m%d", "%Y-%m-%d"])
@pytest.mark.parametrize("day", ["2024-02-29", "2023-02-29", "2024-13-01", "0000-01-01", "2024-1-05",
                                 "\uff12\uff10\uff12\uff14-01-05", "2024-01-5 ", "9999-12-31"])
def test_the_fast_date_path_agrees_with_strptime(date_format, day):
    """Valid, impossible, short, full-width and padded dates: the same answer as strptime."""
    text = day.replace("-", "") if date_format == "%Y%m%d" else day
    try:
        expected = datetime.strptime(text, date_format).date()
    except ValueError:
        expected = ValueError
    try:
        got = importing._parse_date(text, date_format)
    except ValueError:
        got = ValueError
    assert got == expected
