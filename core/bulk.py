"""Set-based writes Django's ORM does only row by row or quadratically.

``bulk_update`` writes ``UPDATE ... SET col = CASE WHEN id = 1 THEN ... WHEN id = 2 ...`` per
batch, so each row scans a CASE of the batch's size for every column: 2,000 rows took minutes.
:func:`bulk_update_by_pk` sends the rows as a VALUES list and updates with one ``UPDATE ... FROM``
(a hash join on the primary key), values prepared by each field as ``save()`` would (encryption
of PII fields included).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from psycopg2 import sql

UPDATE_PAGE_SIZE = 2000


def bulk_update_by_pk(model: type[models.Model], objs: Sequence[models.Model], field_names: Sequence[str]) -> int:
    """Write ``field_names`` of ``objs`` (existing rows) in one statement per page; return rows updated.

    Like ``QuerySet.bulk_update``, no ``save()``, no signals and no ``pre_save`` (so auto_now and
    computed fields, e.g. blind indexes, must be set on the objects by the caller).
    """
    if not objs or not field_names:
        return 0
    fields = [model._meta.get_field(name) for name in field_names]
    pk = model._meta.pk
    columns = [pk.column, *(field.column for field in fields)]
    casts = [pk.db_type(connection), *(field.db_type(connection) for field in fields)]
    template = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    rows = [
        [obj.pk, *(field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields)]
        for obj in objs
    ]
    statement = sql.SQL("UPDATE {table} AS t SET {assignments} FROM (VALUES %s) AS v ({columns}) "
                        "WHERE t.{pk} = v.{pk}").format(
        table=sql.Identifier(model._meta.db_table),
        assignments=sql.SQL(", ").join(
            sql.SQL("{column} = v.{column}").format(column=sql.Identifier(field.column)) for field in fields),
        columns=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
        pk=sql.Identifier(pk.column),
    )
    updated = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg2's own cursor composes (quotes) the VALUES list
        head, tail = statement.as_string(raw).split("%s")
        for start in range(0, len(rows), UPDATE_PAGE_SIZE):
            values = b",".join(raw.mogrify(template, row) for row in rows[start:start + UPDATE_PAGE_SIZE])
            cursor.execute(head + values.decode() + tail)  # no params: Django passes it as it is
            updated += cursor.rowcount
    return updated
