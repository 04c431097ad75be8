"""The working-day calendar: holidays and 调休 working weekend days, seeded and imported."""

from datetime import date

import pytest

from core import workdays
from core.errors import ApplicationError
from core.models import AuditEvent, CalendarDay

pytestmark = pytest.mark.django_db

D = date


# --- Seeded 2026 (from the State Council notice) ---------------------------------------------


@pytest.mark.parametrize(("day", "working"), [
    (D(2026, 2, 13), True),   # Friday before Spring Festival
    (D(2026, 2, 14), True),   # Saturday worked (调休)
    (D(2026, 2, 15), False),  # Sunday, first day of the holiday
    (D(2026, 2, 16), False),  # Monday inside the holiday
    (D(2026, 2, 20), False),
    (D(2026, 2, 23), False),  # Monday, last day of the holiday
    (D(2026, 2, 24), True),   # Tuesday, back at work
    (D(2026, 2, 28), True),   # Saturday worked (调休)
    (D(2026, 3, 1), False),   # an ordinary Sunday
    (D(2026, 9, 20), True),   # Sunday worked before National Day
    (D(2026, 9, 25), False),  # Mid-Autumn (Friday)
    (D(2026, 9, 30), True),
    (D(2026, 10, 1), False),
    (D(2026, 10, 7), False),  # Wednesday, last day of National Day
    (D(2026, 10, 8), True),
    (D(2026, 10, 10), True),  # Saturday worked
    (D(2026, 10, 11), False),
    (D(2026, 1, 4), True),    # Sunday worked after New Year
    (D(2026, 5, 9), True),    # Saturday worked after Labour Day
    (D(2026, 5, 5), False),
])
def test_seeded_2026_calendar_knows_holidays_and_worked_weekends(day, working):
    assert workdays.is_working_day(day) is working


@pytest.mark.parametrize(("start", "n", "expected"), [
    (D(2026, 2, 12), 1, D(2026, 2, 13)),
    (D(2026, 2, 12), 2, D(2026, 2, 14)),   # the worked Saturday counts
    (D(2026, 2, 12), 3, D(2026, 2, 24)),   # nine days of Spring Festival do not
    (D(2026, 2, 14), 1, D(2026, 2, 24)),
    (D(2026, 2, 24), 4, D(2026, 2, 28)),   # Wed, Thu, Fri, then the worked Saturday
    (D(2026, 9, 24), 1, D(2026, 9, 28)),   # Mid-Autumn Friday skipped
    (D(2026, 9, 30), 1, D(2026, 10, 8)),   # all of National Day skipped
    (D(2026, 9, 30), 3, D(2026, 10, 10)),
    (D(2026, 10, 8), 0, D(2026, 10, 8)),
    (D(2026, 10, 8), -1, D(2026, 9, 30)),  # backwards over the holiday
    (D(2026, 12, 4), 1, D(2026, 12, 7)),   # an ordinary weekend
])
def test_working_days_add_around_spring_festival_and_national_day(start, n, expected):
    assert workdays.working_days_add(start, n) == expected


def test_working_days_between_counts_a_holiday_month():
    """October 2026: 22 weekdays, minus 5 weekday holidays (1, 2, 5, 6, 7), plus Saturday the 10th."""
    assert workdays.working_days_between(D(2026, 10, 1), D(2026, 10, 31)) == 18
    assert workdays.working_days_between(D(2026, 10, 31), D(2026, 10, 1)) == 0


def test_2027_is_seeded_as_provisional():
    assert CalendarDay.objects.filter(day__year=2027, kind="holiday").exists()
    assert all("暂定" in name for name in CalendarDay.objects.filter(day__year=2027).values_list("name", flat=True))


def test_working_day_sql_agrees_with_python():
    from django.db import connection

    days = [D(2026, 2, 14), D(2026, 2, 16), D(2026, 2, 24), D(2026, 3, 1), D(2026, 10, 10)]
    with connection.cursor() as cursor:
        for day in days:
            cursor.execute(f"SELECT {workdays.working_day_sql('%(day)s::date')}", {"day": day})
            assert cursor.fetchone()[0] is workdays.is_working_day(day)


# --- CSV import ------------------------------------------------------------------------------


def test_import_replaces_the_years_in_the_file_and_is_audited(make_user):
    """When the State Council publishes 2027, the admin imports it and the provisional rows go."""
    admin = make_user()
    text = "date,kind,name\n2027-02-06,holiday,春节\n2027-02-11,holiday,春节\n2027-02-20,workday,春节调休\n"

    result = workdays.calendar_import_csv(text=text, by=admin)

    assert result.years == (2027,) and result.holidays == 2 and result.workdays == 1
    assert sorted(CalendarDay.objects.filter(day__year=2027).values_list("day", flat=True)) == [
        D(2027, 2, 6), D(2027, 2, 11), D(2027, 2, 20)]
    assert workdays.is_working_day(D(2027, 2, 20)) and not workdays.is_working_day(D(2027, 2, 11))
    assert workdays.is_working_day(D(2027, 10, 4))  # the provisional National Day is gone
    assert CalendarDay.objects.filter(day__year=2026).count() > 30  # other years untouched
    event = AuditEvent.objects.get(action="calendar.import")
    assert event.actor_id == admin.pk and event.detail["years"] == [2027]


@pytest.mark.parametrize(("text", "message"), [
    ("day,type\n2027-01-01,holiday\n", "header"),
    ("date,kind,name\n2027-13-01,holiday,x\n", "line 2"),
    ("date,kind,name\n2027-01-01,vacation,x\n", "line 2"),
    ("date,kind,name\n2027-01-04,workday,x\n", "weekday"),  # a Monday cannot be a worked weekend
    ("date,kind,name\n2027-01-01,holiday,x\n2027-01-01,holiday,y\n", "twice"),
    ("date,kind,name\n", "no rows"),
])
def test_a_bad_file_changes_nothing(make_user, text, message):
    before = CalendarDay.objects.count()
    with pytest.raises(ApplicationError) as excinfo:
        workdays.calendar_import_csv(text=text, by=make_user())
    assert message in excinfo.value.message
    assert CalendarDay.objects.count() == before


def test_import_accepts_chinese_kinds_and_a_bom(make_user):
    workdays.calendar_import_csv(text="\ufeffdate,kind,name\n2028-01-01,休,元旦\n2028-01-08,班,调休\n",
                                 by=make_user())
    assert not workdays.is_working_day(D(2028, 1, 1)) and workdays.is_working_day(D(2028, 1, 8))


# --- Admin -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("rm", 302), ("branch_manager", 302),
                                              ("auditor", 302), ("complaint_desk", 302)])
def test_calendar_admin_is_for_admins(client_as, role, status):
    client = client_as(role, is_staff=True)
    assert client.get("/admin/core/calendarday/").status_code in ((status,) if status == 200 else (302, 403))
    assert client.get("/admin/core/calendarday/import/").status_code in ((200,) if status == 200 else (302, 403))


def test_admin_imports_a_csv(client_as):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_as("admin", is_staff=True)
    upload = SimpleUploadedFile("2028.csv", "date,kind,name\n2028-10-02,holiday,国庆节\n".encode(), "text/csv")

    response = client.post("/admin/core/calendarday/import/", {"file": upload})

    assert response.status_code == 302
    assert not workdays.is_working_day(D(2028, 10, 2))


def test_management_command_imports(tmp_path):
    from django.core.management import call_command

    path = tmp_path / "cal.csv"
    path.write_text("date,kind,name\n2029-10-01,holiday,国庆节\n", encoding="utf-8")
    call_command("import_working_calendar", str(path))
    assert not workdays.is_working_day(D(2029, 10, 1))
