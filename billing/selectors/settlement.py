"""Reads for the settlement pages: runs with their progress, a run's lines (filtered, with
open disputes), the line-by-line difference from the previous version, and the rows of the
two export files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from billing.models import SettlementChunk, SettlementDispute, SettlementLine, SettlementRun

# The amounts a new version is compared on, and shown old → new.
DIFF_FIELDS = ("bill_savings", "incentives_earned", "bill_credit", "payout", "net_benefit")


def runs() -> QuerySet[SettlementRun]:
    return (
        SettlementRun.objects.select_related(
            "program", "created_by", "reviewed_by", "approved_by", "exported_by"
        )
        .annotate(
            chunks_total=Count("chunks", distinct=True),
            chunks_done=Count(
                "chunks", filter=Q(chunks__status=SettlementChunk.Status.DONE), distinct=True
            ),
        )
        .order_by("-period_start", "program__name", "-version")
    )


def progress_percent(run) -> int:
    total = getattr(run, "chunks_total", 0)
    return 100 if not total else int(100 * run.chunks_done / total)


def lines(*, run: SettlementRun, query: str = "", show: str = "") -> QuerySet[SettlementLine]:
    """The run's lines with whether each has an open dispute; ``query`` matches the account
    number or customer name, ``show`` is "disputed", "problems" or "" (all)."""
    qs = SettlementLine.objects.filter(run=run).annotate(
        disputed=Exists(
            SettlementDispute.objects.filter(
                line=OuterRef("pk"), status=SettlementDispute.Status.OPEN
            )
        )
    )
    if query.strip():
        text = query.strip()
        qs = qs.filter(Q(account_number__icontains=text) | Q(customer_name__icontains=text))
    if show == "disputed":
        qs = qs.filter(disputed=True)
    elif show == "problems":
        qs = qs.exclude(problem="")
    return qs.order_by("account_number", "id")


def disputes(*, run: SettlementRun) -> QuerySet[SettlementDispute]:
    return (
        SettlementDispute.objects.filter(line__run=run)
        .select_related("line", "opened_by", "resolved_by")
        .order_by("status", "-opened_at", "-id")
    )


@dataclass(frozen=True)
class DiffRow:
    change: str  # "added" | "removed" | "changed"
    enrollment_id: int
    account_number: str
    customer_name: str
    old: dict[str, Decimal | None]
    new: dict[str, Decimal | None]

    def pairs(self):
        """(field, old, new) for the fields the row shows."""
        return [(f, self.old.get(f), self.new.get(f)) for f in DIFF_FIELDS]


_DIFF_SQL = """
SELECT {change}, coalesce(n.enrollment_id, o.enrollment_id),
       coalesce(n.account_number, o.account_number), coalesce(n.customer_name, o.customer_name),
       {old_cols}, {new_cols}
FROM (SELECT * FROM {line} WHERE run_id = %(new)s) n
FULL OUTER JOIN (SELECT * FROM {line} WHERE run_id = %(old)s) o USING (enrollment_id)
WHERE {differs}
"""


def _diff_sql(select: str) -> str:
    differs = " OR ".join(f"n.{f} IS DISTINCT FROM o.{f}" for f in DIFF_FIELDS)
    change = ("CASE WHEN o.id IS NULL THEN 'added' WHEN n.id IS NULL THEN 'removed' "
              "ELSE 'changed' END")  # fmt: skip
    sql = _DIFF_SQL.format(
        change=change,
        old_cols=", ".join(f"o.{f}" for f in DIFF_FIELDS),
        new_cols=", ".join(f"n.{f}" for f in DIFF_FIELDS),
        line=SettlementLine._meta.db_table,
        differs=f"(o.id IS NULL OR n.id IS NULL OR {differs})",
    )
    return select.format(inner=sql)


class VersionDiff:
    """The lines that differ between a run and its previous version, paginated in SQL (a
    count and one page per request, whatever the number of lines). Both runs belong to the
    request's utility: the caller got ``run`` through the scoped manager, and ``previous`` is
    its own foreign key."""

    def __init__(self, run: SettlementRun):
        self.params = {"new": run.pk, "old": run.previous_id}

    def count(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(_diff_sql("SELECT count(*) FROM ({inner}) d"), self.params)
            return cursor.fetchone()[0]

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[DiffRow]:
        limit = (window.stop or 0) - (window.start or 0)
        sql = _diff_sql("SELECT * FROM ({inner}) d ORDER BY 3, 2 LIMIT %(limit)s OFFSET %(offset)s")
        with connection.cursor() as cursor:
            cursor.execute(sql, {**self.params, "limit": limit, "offset": window.start or 0})
            rows = cursor.fetchall()
        n = len(DIFF_FIELDS)
        return [
            DiffRow(
                change=r[0], enrollment_id=r[1], account_number=r[2], customer_name=r[3],
                old=dict(zip(DIFF_FIELDS, r[4:4 + n], strict=True)),
                new=dict(zip(DIFF_FIELDS, r[4 + n:4 + 2 * n], strict=True)),
            )
            for r in rows
        ]  # fmt: skip


def diff_page(*, run: SettlementRun, page: str | None, per_page: int = 50):
    if run.previous_id is None:
        return None
    return Paginator(VersionDiff(run), per_page).get_page(page)


# --- Export files ----------------------------------------------------------------------------

BILL_CREDIT_HEADER = (
    "reference", "account_number", "customer_name", "program", "period", "credit_amount",
    "currency",
)  # fmt: skip
PAYOUT_HEADER = (
    "reference", "account_number", "payee_name", "program", "period", "payout_amount",
    "currency",
)  # fmt: skip
EXPORT_KINDS = {"bill-credits": "bill_credit", "incentive-payouts": "payout"}


def export_rows(*, run: SettlementRun, kind: str) -> Iterator[tuple]:
    """One row per account line with a non-zero amount in the file's column, in account
    order; the reference (run, version, enrollment) lets the receiving system de-duplicate.
    The query is made here, inside the caller's scope; rows stream as the response is sent."""
    column = EXPORT_KINDS[kind]
    rows = (
        SettlementLine.objects.filter(run=run)
        .exclude(**{column: 0})
        .order_by("account_number", "enrollment_id")
        .values_list("enrollment_id", "account_number", "customer_name", column)
    )
    fixed = (run.program.slug, run.period_label)
    return (
        (f"SR{run.pk}-V{run.version}-E{enrollment_id}", account_number, name, *fixed,
         f"{amount:.2f}", "USD")
        for enrollment_id, account_number, name, amount in rows.iterator(chunk_size=2000)
    )  # fmt: skip


def export_filename(*, run: SettlementRun, kind: str) -> str:
    return f"settlement-{run.program.slug}-{run.period_label}-v{run.version}-{kind}.csv"
