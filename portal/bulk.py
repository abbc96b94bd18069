"""Bulk SQL helpers shared by the apps: many rows in, many ids as one parameter.

``bulk_insert`` takes 100,000 rows in a few seconds on PostgreSQL (binary COPY) where
``bulk_create`` takes a minute; ``among`` narrows a query to thousands of values without
thousands of parameters.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Model, QuerySet
from django.db.models.expressions import RawSQL


def _sqlite_value(value, adapt):
    if isinstance(value, datetime):
        return adapt(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


_COPY_TYPES: dict[str, list[int]] = {}  # staging table → its columns' type oids


def bulk_insert(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[tuple],
    *,
    conflict: str,
    returning: Sequence[str] = (),
) -> list[tuple]:
    """INSERT ``rows`` with an ``ON CONFLICT`` clause (the same SQL on both databases), the
    fastest way each database takes many rows: on PostgreSQL a binary COPY into a staging
    table, then one INSERT … SELECT. Lists and dicts go to JSON columns. Returns the
    RETURNING rows. Call inside a transaction."""
    if not rows:
        return []
    assert connection.in_atomic_block, "the staging table is emptied when the transaction ends"
    table = model._meta.db_table
    column_list = ", ".join(columns)
    returning_sql = f" RETURNING {', '.join(returning)}" if returning else ""
    # Identifiers come from model metadata and this module; values are copied or bound.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One staging table per connection and column list, emptied before each use and
            # at each commit: creating and dropping one per batch would churn the catalogs.
            staging = f"staging_{table}_{zlib.crc32(column_list.encode()):08x}"
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "  # noqa: S608
                f"SELECT {column_list} FROM {table} WITH NO DATA; TRUNCATE {staging}"
            )
            if staging not in _COPY_TYPES:
                cursor.execute(f"SELECT {column_list} FROM {staging} LIMIT 0")  # noqa: S608
                _COPY_TYPES[staging] = [column.type_code for column in cursor.description]
            with cursor.copy(f"COPY {staging} ({column_list}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_COPY_TYPES[staging])  # binary: several times faster than text
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} {conflict}{returning_sql}"  # noqa: S608
            )
            return cursor.fetchall() if returning else []

        adapt = connection.ops.adapt_datetimefield_value
        per_statement = max(1, connection.features.max_query_params // len(columns))
        row_placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        returned: list[tuple] = []
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join([row_placeholders] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({column_list}) VALUES {values} {conflict}{returning_sql}",  # noqa: S608
                [_sqlite_value(v, adapt) for row in chunk for v in row],
            )
            if returning:
                returned.extend(cursor.fetchall())
        return returned


# Up to this many values, PostgreSQL looks each one up in an index (joined with unnest; with
# "= ANY" it would scan the table); beyond it, scanning and hashing the list is quicker (and
# that is what "= ANY" gets: a join with unnest would probe the index once per value).
_INDEX_LOOKUPS_UP_TO = 5_000


def among(query: QuerySet, field_name: str, values: Iterable) -> QuerySet:
    """``query`` narrowed to rows whose ``field_name`` is one of ``values``, in one query
    however many: the values travel as one parameter (a PostgreSQL array, a JSON list for
    SQLite, which allows only so many parameters), cheap to send and to plan."""
    values = list(values)
    if not values:
        return query.none()
    if connection.vendor != "postgresql":
        listed = RawSQL("SELECT value FROM json_each(%s)", (json.dumps(values),))  # noqa: S611
        return query.filter(**{f"{field_name}__in": listed})
    if isinstance(values[0], str):
        array, array_type = values, "text[]"  # psycopg quotes each string
    else:  # ids: an array literal of integers is far quicker to build than to adapt
        array, array_type = "{" + ",".join(str(int(value)) for value in values) + "}", "bigint[]"
    if len(values) > _INDEX_LOOKUPS_UP_TO:
        column = f"{query.model._meta.db_table}.{query.model._meta.get_field(field_name).column}"
        matches = RawSQL(f"{column} = ANY(%s::{array_type})", (array,), BooleanField())  # noqa: S611
        return query.filter(matches)
    subquery = RawSQL(f"SELECT unnest(%s::{array_type})", (array,))  # noqa: S611 - bound values
    return query.filter(**{f"{field_name}__in": subquery})
