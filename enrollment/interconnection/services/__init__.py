"""Interconnection writes, one module per area: the transition helper and SLA clocks under
every move, documents, the installer's side (drafting, submission, installation), the
utility's review (screens, deficiencies, witness test, PTO), the AHJ's permit and
inspection, deficiencies and their answers, and messages. Import them from here.

Every transition locks the application row (``select_for_update(of=("self",))``), checks
the move against ``ALLOWED`` / ``PERMIT_ALLOWED`` and the state the page showed
(``expected``: a second click finds the state moved on and is told so, nothing changes),
saves with ``update_fields``, moves the SLA clocks, writes a history row and an audit row,
and sends notifications on commit. Call inside the application's utility scope.
"""

from enrollment.interconnection.services.applications import (
    DRAFT_FIELDS,
    EDITABLE_STATES,
    create_draft,
    report_installed,
    route_to_jurisdiction,
    submit,
    update_draft,
    withdraw,
)
from enrollment.interconnection.services.clocks import sla_targets
from enrollment.interconnection.services.deficiencies import (
    AnswerInput,
    DeficiencyItemInput,
    answer_deficiency,
)
from enrollment.interconnection.services.documents import (
    MAX_DOCUMENT_BYTES,
    check_upload,
    upload_document,
)
from enrollment.interconnection.services.errors import (
    ChecklistIncomplete,
    InspectionDateNeeded,
    InterconnectionError,
    InvalidInput,
    StaleState,
    TransitionNotAllowed,
)
from enrollment.interconnection.services.messages import post_message
from enrollment.interconnection.services.permits import (
    issue_permit,
    record_inspection,
    request_corrections,
    schedule_inspection,
)
from enrollment.interconnection.services.review import (
    accept_complete,
    acknowledge,
    approve_engineering,
    assign_engineer,
    decide_witness_test,
    engineers_of,
    grant_pto,
    pto_blockers,
    reject,
    request_information,
    revoke_pto,
)

__all__ = [
    "DRAFT_FIELDS",
    "EDITABLE_STATES",
    "MAX_DOCUMENT_BYTES",
    "AnswerInput",
    "ChecklistIncomplete",
    "DeficiencyItemInput",
    "InspectionDateNeeded",
    "InterconnectionError",
    "InvalidInput",
    "StaleState",
    "TransitionNotAllowed",
    "accept_complete",
    "acknowledge",
    "answer_deficiency",
    "approve_engineering",
    "assign_engineer",
    "check_upload",
    "create_draft",
    "decide_witness_test",
    "engineers_of",
    "grant_pto",
    "issue_permit",
    "post_message",
    "pto_blockers",
    "record_inspection",
    "reject",
    "report_installed",
    "request_corrections",
    "request_information",
    "revoke_pto",
    "route_to_jurisdiction",
    "schedule_inspection",
    "sla_targets",
    "submit",
    "update_draft",
    "upload_document",
    "withdraw",
]
