"""The audit trail's hash chain: sealing and verification (the SQL lives in migration
``portal/0005_audit_hash_chain``).

Each utility's rows (and the platform's rows, utility empty) form one chain: row n carries
``chain_seq`` n, the hash of row n−1 and its own hash, SHA-256 over that previous hash and
every field of the row. A row changed, deleted or re-ordered behind the application's back —
by someone who can switch the append-only trigger off — breaks the chain at that row, and
``verify`` says where.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

SEAL_BATCH = 5000


def seal() -> int:
    """Seal every unsealed row, oldest first; the number sealed. Safe to run anywhere at any
    time: one sealer works at once (an advisory lock), the others find nothing to do."""
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT portal_audit_seal(%s)", [SEAL_BATCH])
            sealed = cursor.fetchone()[0]
        total += sealed
        if sealed < SEAL_BATCH:
            return total


@dataclass(frozen=True)
class Break:
    utility_id: int | None
    audit_id: int
    chain_seq: int
    reason: str


@dataclass(frozen=True)
class Verification:
    rows_checked: int
    unsealed: int
    breaks: list[Break]

    @property
    def intact(self) -> bool:
        return not self.breaks


_VERIFY = """
WITH chain AS (
    SELECT t.id, t.utility_id, t.chain_seq, t.prev_hash, t.row_hash,
           portal_audit_row_hash(t.prev_hash, t) AS recomputed,
           lag(t.row_hash) OVER w AS before_hash,
           lag(t.chain_seq) OVER w AS before_seq
    FROM portal_auditevent t
    WHERE t.row_hash <> '' {utility_filter}
    WINDOW w AS (PARTITION BY COALESCE(t.utility_id, 0) ORDER BY t.chain_seq)
)
SELECT utility_id, id, chain_seq,
       CASE
           WHEN recomputed <> row_hash THEN 'row changed after it was sealed'
           WHEN chain_seq <> COALESCE(before_seq, 0) + 1 THEN 'rows missing before this one'
           WHEN prev_hash <> COALESCE(before_hash, '') THEN 'link to the previous row broken'
       END AS reason
FROM chain
WHERE recomputed <> row_hash
   OR chain_seq <> COALESCE(before_seq, 0) + 1
   OR prev_hash <> COALESCE(before_hash, '')
ORDER BY COALESCE(utility_id, 0), chain_seq
"""


_COUNTS = (
    "SELECT count(*) FILTER (WHERE row_hash <> ''), count(*) FILTER (WHERE row_hash = '') "
    "FROM portal_auditevent WHERE true "
)


def verify(*, utility_id: int | None = None, platform: bool = False) -> Verification:
    """Seal what is waiting, then recompute every hash and link: of one utility's chain, the
    platform's (``platform=True``), or all of them."""
    seal()
    params: list = []
    if utility_id is not None:
        utility_filter, params = "AND t.utility_id = %s", [utility_id]
    elif platform:
        utility_filter = "AND t.utility_id IS NULL"
    else:
        utility_filter = ""
    with connection.cursor() as cursor:
        cursor.execute(_VERIFY.format(utility_filter=utility_filter), params)
        breaks = [Break(*row) for row in cursor.fetchall()]
        counts = _COUNTS + utility_filter.replace("t.", "")  # one of the constant filters
        cursor.execute(counts, params)
        checked, unsealed = cursor.fetchone()
    return Verification(rows_checked=checked, unsealed=unsealed, breaks=breaks)
