"""Bulk SQL helpers shared by the apps: many rows in, many ids as one parameter.

``bulk_insert`` takes 100,000 rows in a few seconds on PostgreSQL (binary COPY) where
``bulk_create`` takes a minute; ``among`` narrows a query to thousands of values without
thousands of parameters.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Model, QuerySet
from django.db.models.expressions import RawSQL

_COPY_TYPES: dict[str, list[int]] = {}  # staging table → its columns' type oids


def bulk_insert(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[tuple],
    *,
    conflict: str,
    returning: Sequence[str] = (),
) -> list[tuple]:
    """INSERT ``rows`` with an ``ON CONFLICT`` clause, the fastest way PostgreSQL takes many
    rows: a binary COPY into a staging
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


# Up to this many values, PostgreSQL looks each one up in an index (joined with unnest; with
# "= ANY" it would scan the table); beyond it, scanning and hashing the list is quicker (and
# that is what "= ANY" gets: a join with unnest would probe the index once per value).
_INDEX_LOOKUPS_UP_TO = 5_000


def among(query: QuerySet, field_name: str, values: Iterable) -> QuerySet:
    """``query`` narrowed to rows whose ``field_name`` is one of ``values``, in one query
    however many: the values travel as one parameter (a PostgreSQL array), cheap to send and to plan."""
    values = list(values)
    if not values:
        return query.none()
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


def bulk_update_rows(model, objs: Sequence[Any], fields: Sequence[str]) -> None:
    """Write ``fields`` of saved ``objs`` with one ``UPDATE … FROM (VALUES …)`` per chunk.

    Django's ``bulk_update`` builds a ``CASE WHEN`` per field and row in Python, which costs
    seconds per thousand rows; this is the same write at database speed. Each value is cast to its
    column's type.
    """
    if not objs:
        return
    quote = connection.ops.quote_name
    meta = model._meta
    table = quote(meta.db_table)
    pk = meta.pk
    columns = [pk, *(meta.get_field(name) for name in fields)]

    def assigned(f) -> str:
        return f"{quote(f.column)} = CAST(v.{quote(f.column)} AS {f.db_type(connection)})"

    # Only quoted identifiers and column types go into the text; every value is a parameter.
    sql_head = (
        f"WITH v ({', '.join(quote(f.column) for f in columns)}) AS (VALUES {{rows}}) "  # noqa: S608
        f"UPDATE {table} SET {', '.join(assigned(f) for f in columns[1:])} "
        f"FROM v WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}"
    )
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_statement = max(
        1, min(1000, (connection.features.max_query_params or 65535) // len(columns))
    )
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start : start + per_statement]
            params: list[Any] = []
            for obj in chunk:
                params.extend(
                    f.get_db_prep_save(getattr(obj, f.attname), connection=connection)
                    for f in columns
                )
            cursor.execute(sql_head.format(rows=", ".join([row_sql] * len(chunk))), params)
