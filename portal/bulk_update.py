"""Bulk updates of saved rows at database speed, for the apps' import and batch paths.

This belongs beside ``bulk_insert`` in ``portal.bulk``; it lives here until the PostgreSQL-only
change to that module has landed (``enrollment.services`` still has its own copy until then).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, router


def bulk_update_rows(model, objs: Sequence[Any], fields: Sequence[str]) -> None:
    """Write ``fields`` of saved ``objs`` with one ``UPDATE … FROM (VALUES …)`` per chunk.

    Django's ``bulk_update`` builds a ``CASE WHEN`` per field and row in Python, which costs
    seconds per thousand rows; this is the same write at database speed (PostgreSQL and
    SQLite ≥ 3.33 both take it). On PostgreSQL each value is cast to its column's type.
    """
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    table = quote(meta.db_table)
    pk = meta.pk
    columns = [pk, *(meta.get_field(name) for name in fields)]
    cast = connection.vendor == "postgresql"

    def assigned(f) -> str:
        source = f"v.{quote(f.column)}"
        return f"{quote(f.column)} = " + (
            f"CAST({source} AS {f.db_type(connection)})" if cast else source
        )

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
