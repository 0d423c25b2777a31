"""Records of a published form: create, read, update, delete, restore, list, history.

One module per concept: `write` (the order of the stages of every kind of write, and
the functions that write), `stages` (the stages), `pipeline` (runs them, with the
hooks other features register around them), `read` (one record), `lists` (many),
`links` (between records), `history` (and the audit log), `uniqueness` (unique
fields). Every write runs in the caller's transaction and appends field-level
history in the same transaction, so a record and its history never disagree.
"""

from opsloom.runtime.access import eval_context
from opsloom.runtime.records.history import record_history
from opsloom.runtime.records.lists import ListRequest, list_records
from opsloom.runtime.records.pipeline import WriteContext, WriteHooks, WriteItem, WritePipeline, write_hooks
from opsloom.runtime.records.read import attach_rows, get_record
from opsloom.runtime.records.stages import LOCKED_STATUSES, formula_context
from opsloom.runtime.records.write import (
    MAX_BULK,
    PIPELINES,
    PlannedUpdate,
    apply_update,
    create_record,
    create_records,
    delete_record,
    plan_update,
    purge_record,
    read_row,
    restore_record,
    set_status,
    update_record,
)

__all__ = [
    "LOCKED_STATUSES",
    "MAX_BULK",
    "PIPELINES",
    "ListRequest",
    "WriteContext",
    "WriteHooks",
    "WriteItem",
    "WritePipeline",
    "attach_rows",
    "create_record",
    "create_records",
    "delete_record",
    "eval_context",
    "formula_context",
    "get_record",
    "list_records",
    "PlannedUpdate",
    "apply_update",
    "plan_update",
    "read_row",
    "purge_record",
    "record_history",
    "restore_record",
    "set_status",
    "update_record",
    "write_hooks",
]
