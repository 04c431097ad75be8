# ruff: noqa: RUF001 - Chinese full-width punctuation is intended in Chinese text.
"""Demo data for the service chapter: service records, survey invitations, answers and follow-ups.

Set-based: a few INSERT ... SELECT statements over a deterministic sample of customers, so it
takes about the same time for 2,000 customers as for 1,000,000 (the sample is chosen by one
ordered scan of the customer ids). Every pseudo-random choice is a byte of md5(customer id,
row number or service start, seed), so the same seed gives the same rows.

The bulk invitations get random token hashes nobody holds, and no SMS rows; a few invitations
are then sent through ``survey_send`` so the outbox has realistic messages and the returned
``sample_survey_links`` open real, answerable survey pages.
"""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.db import connection, transaction

from core import workdays
from customers.models import Customer
from service import services
from service.models import (
    FeedbackTopic,
    FollowUpTask,
    ServiceOutcome,
    ServiceRecord,
    SurveyInvitation,
    SurveyResponse,
    Touchpoint,
    dissatisfied_sql,
)

SAMPLE_CUSTOMERS_MAX = 1500
DAYS_BACK = 180
LIVE_INVITATIONS = 3
# Weighted touchpoint mix of a branch: consultations and transfers are the bulk.
TOUCHPOINT_MIX = ["consultation", "consultation", "consultation", "transfer", "transfer", "transfer",
                  "account_opening", "wealth_management", "wealth_management", "complaint"]
COMMENTS = [
    "", "", "", "",
    "服务很好，客户经理很专业。",
    "排队等了太久，效率有待提高。",
    "理财产品说明太复杂，看不懂。",
    "手机银行操作麻烦，流程繁琐。",
    "柜员态度冷淡，不耐烦。",
    "手续费有点高。",
    "Friendly staff, quick service.",
    "Had to wait a long time in the queue.",
]


def _b(index: int) -> str:
    """The SQL for byte ``index`` (0-15) of the row's md5: a deterministic number 0-255."""
    return f"get_byte(decode(h, 'hex'), {index})"


@transaction.atomic
def demo_seed_service(*, seed: int, as_of: date | datetime) -> dict:
    """Create demo service records, invitations, answers and follow-ups; return how many of each."""
    as_of_date = as_of.date() if isinstance(as_of, datetime) else as_of
    touchpoint_ids = dict(Touchpoint.objects.filter(code__in=set(TOUCHPOINT_MIX)).values_list("code", "id"))
    mix = [touchpoint_ids[code] for code in TOUCHPOINT_MIX if code in touchpoint_ids]
    if not mix or not Customer.objects.exists():
        return {"service_records": 0, "invitations": 0, "responses": 0, "follow_ups": 0, "sample_survey_links": []}
    params = {"seed": str(seed), "sample": SAMPLE_CUSTOMERS_MAX, "as_of": as_of_date, "days": DAYS_BACK,
              "mix": mix, "comments": COMMENTS}
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM " + ServiceRecord._meta.db_table)  # noqa: S608
        first_new_record_id = cursor.fetchone()[0]
        records = _insert_service_records(cursor, params)
        invitations = _insert_invitations(cursor, params, after_record_id=first_new_record_id)
        responses = _insert_responses(cursor, params, after_record_id=first_new_record_id)
        _tag_responses(cursor, after_record_id=first_new_record_id)
        follow_ups = _insert_follow_ups(cursor, params, after_record_id=first_new_record_id)
    links = _send_live_invitations(after_record_id=first_new_record_id)
    return {"service_records": records, "invitations": invitations + len(links), "responses": responses,
            "follow_ups": follow_ups, "sample_survey_links": links}


def _insert_service_records(cursor, params: dict) -> int:
    record = ServiceRecord._meta.db_table
    customer = Customer._meta.db_table
    touchpoint = Touchpoint._meta.db_table
    cursor.execute(
        f"""
        WITH sample AS (
            SELECT id, branch_id, relationship_manager_id FROM {customer}
            WHERE status = 'active'
            ORDER BY md5(id::text || ':' || %(seed)s) LIMIT %(sample)s
        ), draws AS (
            SELECT s.*, g.n, md5(s.id::text || ':' || g.n || ':' || %(seed)s) AS h
            FROM sample s CROSS JOIN LATERAL generate_series(1, 1 + (s.id %% 4)::int) AS g(n)
        ), shaped AS (
            SELECT d.*, t.id AS touchpoint_id, t.target_minutes, t.sop_steps,
                   ((%(as_of)s::date - ({_b(1)} * 256 + {_b(2)}) %% %(days)s)
                     + make_interval(hours => 9 + {_b(3)} %% 8, mins => {_b(4)} %% 60))
                     AT TIME ZONE 'Asia/Shanghai' AS started_at,
                   -- 0.45-1.25 times the target, triangular (about one in five over it);
                   -- one in twelve runs long (1.8 times)
                   round(t.target_minutes * 60 * (0.45 + 0.8 * ({_b(5)} + {_b(6)}) / 510.0)
                         * CASE WHEN {_b(7)} < 21 THEN 1.8 ELSE 1 END)::int AS handling_seconds,
                   {_b(8)} AS outcome_draw, {_b(9)} AS steps_draw
            FROM draws d
            JOIN {touchpoint} t ON t.id = (%(mix)s::bigint[])[1 + {_b(0)} %% cardinality(%(mix)s::bigint[])]
        )
        INSERT INTO {record} (customer_id, staff_id, touchpoint_id, branch_id, started_at, ended_at,
                              handling_seconds, target_minutes, steps_completed, outcome, notes,
                              external_ref, created_at)
        SELECT id, relationship_manager_id, touchpoint_id, branch_id, started_at,
               started_at + make_interval(secs => handling_seconds), handling_seconds, target_minutes,
               CASE WHEN steps_draw < 30 THEN sop_steps[1:greatest(cardinality(sop_steps) - 1, 0)]
                    ELSE sop_steps END,
               CASE WHEN outcome_draw < 10 THEN %(abandoned)s WHEN outcome_draw < 25 THEN %(referred)s
                    ELSE %(completed)s END,
               '', NULL, started_at + make_interval(secs => handling_seconds)
        FROM shaped
        ORDER BY started_at, id, n
        """,  # noqa: S608 (table names are ours)
        {**params, "abandoned": ServiceOutcome.ABANDONED, "referred": ServiceOutcome.REFERRED,
         "completed": ServiceOutcome.COMPLETED},
    )
    return cursor.rowcount


def _insert_invitations(cursor, params: dict, *, after_record_id: int) -> int:
    """Two in five completed services get a survey, ten minutes after the service."""
    cursor.execute(
        f"""
        INSERT INTO {SurveyInvitation._meta.db_table}
            (customer_id, trigger, reference, service_record_id, token_hash, expires_at, created_at, created_by_id)
        SELECT r.customer_id, %(trigger)s, r.id::text, r.id,
               encode(sha256(('demo:' || %(seed)s || ':' || r.id || ':' || gen_random_uuid())::bytea), 'hex'),
               r.ended_at + interval '10 minutes' + interval '14 days', r.ended_at + interval '10 minutes', NULL
        FROM {ServiceRecord._meta.db_table} r
        WHERE r.id > %(after)s AND r.outcome = %(completed)s
          AND get_byte(decode(md5(r.customer_id || ':' || extract(epoch FROM r.started_at)::bigint
                                  || ':inv:' || %(seed)s), 'hex'), 0) < 102
        ORDER BY r.id
        """,  # noqa: S608 (table names are ours)
        {**params, "trigger": SurveyInvitation.Trigger.SERVICE, "after": after_record_id,
         "completed": ServiceOutcome.COMPLETED},
    )
    return cursor.rowcount


def _insert_responses(cursor, params: dict, *, after_record_id: int) -> int:
    """Three in five invitations are answered within a day; long services score lower."""
    cursor.execute(
        f"""
        WITH answered AS (
            SELECT i.id AS invitation_id, i.customer_id, i.created_at,
                   (r.handling_seconds > r.target_minutes * 60) AS overrun,
                   md5(r.customer_id || ':' || extract(epoch FROM r.started_at)::bigint || ':resp:' || %(seed)s) AS h
            FROM {SurveyInvitation._meta.db_table} i
            JOIN {ServiceRecord._meta.db_table} r ON r.id = i.service_record_id
            WHERE r.id > %(after)s AND i.created_at < %(as_of)s::date - 1
        ), scored AS (
            -- 6-10 after a service within the standard (one in ten a detractor), 4-9 after an overrun
            SELECT a.*, least(10, greatest(0, 6 + {_b(1)} %% 5 + {_b(2)} %% 2
                                              - CASE WHEN overrun THEN 2 ELSE 0 END))::int AS nps
            FROM answered a WHERE {_b(0)} < 154
        )
        INSERT INTO {SurveyResponse._meta.db_table}
            (invitation_id, customer_id, csat, nps, score_service, score_product, score_ease, comment,
             topics_edited_by_id, topics_edited_at, submitted_at)
        SELECT invitation_id, customer_id,
               least(5, greatest(1, round(nps / 2.0)::int)),
               nps,
               least(100, greatest(0, 50 + nps * 3 + {_b(3)} %% 12 - CASE WHEN overrun THEN 10 ELSE 0 END)),
               least(100, greatest(0, 48 + nps * 3 + {_b(4)} %% 12)),
               least(100, greatest(0, 50 + nps * 3 + {_b(5)} %% 12)),
               CASE WHEN nps <= 6 THEN (%(comments)s::text[])[6 + {_b(6)} %% 7]
                    ELSE (%(comments)s::text[])[1 + {_b(6)} %% cardinality(%(comments)s::text[])] END,
               NULL, NULL,
               created_at + make_interval(mins => 5 + ({_b(7)} * 256 + {_b(8)}) %% 1440)
        FROM scored
        ORDER BY invitation_id
        """,  # noqa: S608 (table names are ours)
        {**params, "after": after_record_id},
    )
    return cursor.rowcount


def _tag_responses(cursor, *, after_record_id: int) -> None:
    """The keyword tagger of services.feedback_topics_match, in SQL."""
    through = SurveyResponse.topics.through._meta.db_table
    cursor.execute(
        f"""
        INSERT INTO {through} (surveyresponse_id, feedbacktopic_id)
        SELECT resp.id, t.id
        FROM {SurveyResponse._meta.db_table} resp
        JOIN {SurveyInvitation._meta.db_table} i ON i.id = resp.invitation_id
        JOIN {FeedbackTopic._meta.db_table} t ON t.is_active
        WHERE i.service_record_id > %(after)s AND resp.comment <> ''
          AND EXISTS (SELECT 1 FROM unnest(t.keywords) k
                      WHERE btrim(k) <> '' AND strpos(lower(resp.comment), lower(btrim(k))) > 0)
        ON CONFLICT DO NOTHING
        """,  # noqa: S608 (table names are ours)
        {"after": after_record_id},
    )


def _insert_follow_ups(cursor, params: dict, *, after_record_id: int) -> int:
    """A follow-up for each dissatisfied answer; those older than ten days are already done."""
    cursor.execute(
        f"""
        INSERT INTO {FollowUpTask._meta.db_table}
            (customer_id, response_id, assigned_to_id, status, due_on, note, created_at, finished_at, finished_by_id)
        SELECT resp.customer_id, resp.id, c.relationship_manager_id,
               CASE WHEN old THEN %(done)s ELSE %(open)s END,
               -- core.workdays.working_days_add: the due_in-th working day after the local answer date
               (SELECT max(w.day)::date FROM (
                    SELECT day FROM generate_series((resp.submitted_at AT TIME ZONE %(tz)s)::date + 1,
                                                    (resp.submitted_at AT TIME ZONE %(tz)s)::date + 30,
                                                    interval '1 day') AS g(day)
                    WHERE {workdays.working_day_sql("g.day")} ORDER BY g.day LIMIT %(due_in)s) AS w),
               CASE WHEN old THEN %(note)s ELSE '' END,
               resp.submitted_at,
               CASE WHEN old THEN resp.submitted_at + interval '2 days' END,
               CASE WHEN old THEN c.relationship_manager_id END
        FROM (
            SELECT r.*, r.submitted_at < (%(as_of)s::date - 10) AS old
            FROM {SurveyResponse._meta.db_table} r
        ) resp
        JOIN {SurveyInvitation._meta.db_table} i ON i.id = resp.invitation_id
        JOIN {Customer._meta.db_table} c ON c.id = resp.customer_id
        WHERE i.service_record_id > %(after)s AND {dissatisfied_sql("resp")}
        ORDER BY resp.id
        """,  # noqa: S608 (table names are ours)
        {**params, "after": after_record_id, "done": FollowUpTask.Status.DONE, "open": FollowUpTask.Status.OPEN,
         "due_in": services.service_policy_latest().follow_up_due_working_days, "tz": settings.TIME_ZONE,
         "note": "已电话回访，客户表示理解。"},
    )
    return cursor.rowcount


def _send_live_invitations(*, after_record_id: int) -> list[str]:
    """Send a few real invitations (with SMS rows) for recent services; return their survey paths."""
    records = (
        ServiceRecord.objects.filter(pk__gt=after_record_id, outcome=ServiceOutcome.COMPLETED,
                                     survey_invitations__isnull=True)
        .select_related("customer").order_by("-started_at", "-id")[:LIVE_INVITATIONS]
    )
    links = []
    for record in records:
        invitation = services.survey_send(customer=record.customer, trigger=SurveyInvitation.Trigger.SERVICE,
                                          reference=str(record.pk))
        links.append(f"/public/surveys/{invitation.token}/")
    return links
