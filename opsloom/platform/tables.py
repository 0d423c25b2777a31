"""The platform's own tables. Changed only through Alembic migrations."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from opsloom.platform.types import BigId, Json, UTCDateTime

metadata = MetaData()

apps = Table(
    "opsloom_apps",
    metadata,
    Column("key", String(63), primary_key=True),
    Column("document", Json, nullable=False),
    Column("package_version", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

definitions = Table(
    "opsloom_definitions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), ForeignKey("opsloom_apps.key"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("key", String(63), nullable=False),
    Column("draft", Json, nullable=True),
    Column("draft_revision", Integer, nullable=False, default=0),
    Column("draft_updated_at", UTCDateTime, nullable=True),
    Column("draft_updated_by", BigId, nullable=True),
    Column("published_version", Integer, nullable=True),
    Column("storage", Json, nullable=True),
    UniqueConstraint("app_key", "kind", "key", name="uq_opsloom_definitions_key"),
)

definition_versions = Table(
    "opsloom_definition_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("definition_id", BigId, ForeignKey("opsloom_definitions.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", Json, nullable=False),
    Column("plan", Json, nullable=True),
    Column("published_at", UTCDateTime, nullable=False),
    Column("published_by", BigId, nullable=True),
    UniqueConstraint("definition_id", "version", name="uq_opsloom_definition_versions"),
)

record_history = Table(
    "opsloom_record_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("form_id", BigId, ForeignKey("opsloom_definitions.id"), nullable=False),
    Column("record_id", BigId, nullable=False),
    Column("record_version", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor_id", BigId, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("changes", Json, nullable=False),
    Index("ix_opsloom_record_history_record", "form_id", "record_id", "id"),
)

# ---------------------------------------------------------------- identity

departments = Table(
    "opsloom_departments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False),
    Column("parent_id", BigId, ForeignKey("opsloom_departments.id"), nullable=True),
    Column("head_id", BigId, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

users = Table(
    "opsloom_users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("phone", String(32), nullable=True),
    Column("employee_no", String(32), nullable=True),  # the number HR gives a person; unique when set
    Column("locale", String(16), nullable=True),  # chosen by the user; NULL until they choose
    Column("active", Boolean, nullable=False, default=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("password_hash", String(255), nullable=True),
    Column("department_id", BigId, ForeignKey("opsloom_departments.id"), nullable=True),
    Column("manager_id", BigId, ForeignKey("opsloom_users.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_opsloom_users_employee_no", "employee_no", unique=True),
)

roles = Table(
    "opsloom_roles",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), ForeignKey("opsloom_apps.key"), nullable=False),
    Column("key", String(63), nullable=False),
    Column("document", Json, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Everyone with an account is a member (the last step of a rollout).
    Column("everyone", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("app_key", "key", name="uq_opsloom_roles_key"),
)

role_members = Table(
    "opsloom_role_members",
    metadata,
    Column("role_id", BigId, ForeignKey("opsloom_roles.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigId, ForeignKey("opsloom_users.id"), primary_key=True),
)

# Everyone in a department and the departments below it is a member, as they are today
# (people who join the department later included): a pilot group.
role_departments = Table(
    "opsloom_role_departments",
    metadata,
    Column("role_id", BigId, ForeignKey("opsloom_roles.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", BigId, ForeignKey("opsloom_departments.id", ondelete="CASCADE"), primary_key=True),
)

sessions = Table(
    "opsloom_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", BigId, ForeignKey("opsloom_users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ip", String(64), nullable=True),
)

api_tokens = Table(
    "opsloom_api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("opsloom_users.id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("apps", Json, nullable=True),
    Column("can_write", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

login_failures = Table(
    "opsloom_login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False),
    Column("ip", String(64), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_opsloom_login_failures_email", "email", "at"),
    Index("ix_opsloom_login_failures_ip", "ip", "at"),
)

# Append-only: the database refuses UPDATE and DELETE on it (triggers of migration 0010).
audit_log = Table(
    "opsloom_audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_id", BigId, nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("detail", Json, nullable=True),
    Index("ix_opsloom_audit_log_at", "at"),
    Index("ix_opsloom_audit_log_actor", "actor_id", "at"),
)

# Counters behind autonumber fields: one row per (form, field, period). The row
# is updated in the transaction that creates the record, so numbers are gap-free.
sequences = Table(
    "opsloom_sequences",
    metadata,
    Column("form_id", BigId, primary_key=True),
    Column("field_id", String(64), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Uploaded files of attachment fields. A file is uploaded for one field of one form;
# `record_id` is set when a record takes it, and `detached_at` when the record lets
# it go again: the file is kept (on disk too), since the record's history names it.
files = Table(
    "opsloom_files",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("form_id", BigId, ForeignKey("opsloom_definitions.id"), nullable=False),
    Column("field_id", String(64), nullable=False),
    Column("record_id", BigId, nullable=True),
    Column("name", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(128), nullable=False, unique=True),
    Column("created_by", BigId, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("detached_at", UTCDateTime, nullable=True),
    Index("ix_opsloom_files_record", "form_id", "record_id"),
)

# ------------------------------------------------------------------ flows

flow_instances = Table(
    "opsloom_flow_instances",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("form_key", String(63), nullable=False),
    Column("form_id", BigInteger, nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("flow_id", BigInteger, nullable=False),
    Column("flow_version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("submitter_id", BigInteger, nullable=True),
    Column("title", String(255), nullable=True),
    Column("state", Json, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_opsloom_flow_instances_record", "form_id", "record_id"),
    Index("ix_opsloom_flow_instances_submitter", "submitter_id", "status"),
)

flow_tasks = Table(
    "opsloom_flow_tasks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", BigInteger, ForeignKey("opsloom_flow_instances.id"), nullable=False),
    Column("local_id", Integer, nullable=False),
    Column("node", String(64), nullable=False),
    Column("node_label", String(255), nullable=True),  # the step's name in English (rows before 0007: only this)
    Column("node_labels", Json, nullable=True),  # the step's name by locale: {"zh-CN": ..., "en": ...}
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("assignee_id", BigInteger, nullable=False),
    Column("on_behalf_of", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("acted_at", UTCDateTime, nullable=True),
    Column("due_at", UTCDateTime, nullable=True),
    UniqueConstraint("instance_id", "local_id", name="uq_opsloom_flow_tasks_local"),
    Index("ix_opsloom_flow_tasks_assignee", "assignee_id", "state"),
)

flow_history = Table(
    "opsloom_flow_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", BigInteger, ForeignKey("opsloom_flow_instances.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_id", BigInteger, nullable=True),
    Column("action", String(32), nullable=False),
    Column("node", String(64), nullable=True),
    Column("task_id", BigInteger, nullable=True),
    Column("comment", String(4000), nullable=True),
    Column("detail", Json, nullable=False),
    Index("ix_opsloom_flow_history_instance", "instance_id", "id"),
)

flow_timers = Table(
    "opsloom_flow_timers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", BigInteger, ForeignKey("opsloom_flow_instances.id"), nullable=False),
    Column("local_task_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    Index("ix_opsloom_flow_timers_due", "done_at", "due_at"),
)

notifications = Table(
    "opsloom_notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("instance_id", BigInteger, nullable=True),
    Column("task_id", BigInteger, nullable=True),
    Column("text", String(1000), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime, nullable=True),
    Index("ix_opsloom_notifications_user", "user_id", "read_at"),
)

idempotency_keys = Table(
    "opsloom_idempotency_keys",
    metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("request", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

delegations = Table(
    "opsloom_delegations",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("opsloom_users.id"), nullable=False),
    Column("delegate_id", BigInteger, ForeignKey("opsloom_users.id"), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_opsloom_delegations_user", "user_id", "ends_at"),
)

saved_views = Table(
    "opsloom_saved_views",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("opsloom_users.id"), nullable=False),
    Column("app", String(63), nullable=False),
    Column("form", String(63), nullable=False),
    Column("name", String(100), nullable=False),
    Column("filter", Text, nullable=True),  # a condition as JSON text, as the list's `filter=` takes it
    Column("sort", String(1000), nullable=True),
    Column("columns", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("widths", Json, nullable=True),  # {field key: pixels} as the user resized the columns
    Column("group_by", String(63), nullable=True),  # an option or person field the rows are grouped by
    UniqueConstraint("user_id", "app", "form", "name", name="uq_opsloom_saved_views_name"),
)

publish_jobs = Table(
    "opsloom_publish_jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("definition_id", BigId, ForeignKey("opsloom_definitions.id"), nullable=False),
    Column("status", String(16), nullable=False),  # staging, done, failed
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("stage_table", String(63), nullable=True),  # while it exists
    Column("version", Integer, nullable=True),  # the version it published
    Column("error", Text, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_by", BigId, nullable=True),
    Index("ix_opsloom_publish_jobs_definition", "definition_id", "id"),
)

# Background jobs of any kind (imports now; automations and the outbox may reuse them):
# queued -> running (under a lease that its worker renews) -> done, failed or cancelled.
# A running job whose lease ran out lost its worker (a crash): another worker claims it again.
jobs = Table(
    "opsloom_jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),  # queued, running, done, failed, cancelled
    Column("payload", Json, nullable=False),
    Column("progress", Json, nullable=False),  # {"done": n, "total": n, ...} as the job reports it
    Column("result", Json, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("created_by", BigId, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Index("ix_opsloom_jobs_claim", "state", "id"),
)

# An import of a spreadsheet into a form: the uploaded file, what the user chose, how far it got.
imports = Table(
    "opsloom_imports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("form_key", String(63), nullable=False),
    Column("state", String(16), nullable=False),  # draft, queued, running, done, failed, cancelled, undone
    Column("file_key", String(64), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("file_format", String(8), nullable=False),  # csv, xlsx
    Column("encoding", String(16), nullable=True),  # of a CSV file
    Column("options", Json, nullable=False),  # sheet, header row, mapping, cleaning, values, mode, key, policy
    Column("job_id", BigId, ForeignKey("opsloom_jobs.id"), nullable=True),
    Column("rows_done", Integer, nullable=False, default=0),  # the data rows committed so far, in file order
    Column("counts", Json, nullable=False),  # inserted, updated, skipped, failed
    Column("created_by", BigId, nullable=True),
    Column("token_apps", Json, nullable=True),  # the apps an app-limited token that started it may reach
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("undone_at", UTCDateTime, nullable=True),
    Index("ix_opsloom_imports_form", "app_key", "form_key", "id"),
)

# Each data row of an import that landed (or failed), written in the transaction that stored it:
# a resumed import skips them, so no row is inserted twice.
import_rows = Table(
    "opsloom_import_rows",
    metadata,
    Column("import_id", BigId, ForeignKey("opsloom_imports.id"), primary_key=True),
    Column("row_number", Integer, primary_key=True),  # as the spreadsheet numbers it (1-based)
    Column("outcome", String(16), nullable=False),  # inserted, updated, skipped, failed
    Column("record_id", BigId, nullable=True),
    Column("detail", Json, nullable=True),  # a failed row: its cells and problems
)

# ------------------------------------------------------- outbox, webhooks, channels

# Every event, written in the transaction of the change that caused it (platform/outbox.py);
# a worker fans each out to the subscriptions that want it, once (`dispatched_at`).
outbox = Table(
    "opsloom_outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("topic", String(40), nullable=False),  # record.created, flow.approved, ...
    Column("app_key", String(63), nullable=False),
    Column("form_key", String(63), nullable=True),
    Column("record_id", BigInteger, nullable=True),
    Column("actor_id", BigInteger, nullable=True),
    Column("payload", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("dispatched_at", UTCDateTime, nullable=True),
    Index("ix_opsloom_outbox_waiting", "dispatched_at", "id"),
)

# Where an app's events and notifications go: a webhook, a chat robot, e-mail or the in-app inbox.
subscriptions = Table(
    "opsloom_subscriptions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), ForeignKey("opsloom_apps.key"), nullable=False),
    Column("channel", String(16), nullable=False),  # webhook, dingtalk, wecom, feishu, email, inbox
    Column("name", String(120), nullable=False),
    Column("config", Json, nullable=False),  # the channel's own settings (url, recipients, ...)
    Column("secret", String(255), nullable=True),  # signing secret; never answered after creation
    Column("previous_secret", String(255), nullable=True),  # after a rotation, also signed with until:
    Column("previous_secret_until", UTCDateTime, nullable=True),
    Column("events", Json, nullable=False),  # topics; [] takes none (a channel only `notify` uses)
    Column("form_key", String(63), nullable=True),
    Column("condition", Json, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("owner_id", BigInteger, nullable=False),  # payloads hold only what they may read
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, nullable=True),
    Index("ix_opsloom_subscriptions_app", "app_key", "channel"),
)

# One message to one subscription, delivered at least once (runtime/integrations/delivery.py).
deliveries = Table(
    "opsloom_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subscription_id", BigInteger, ForeignKey("opsloom_subscriptions.id"), nullable=False),
    Column("event_id", BigInteger, nullable=True),  # None: a notification an action sent
    Column("topic", String(40), nullable=False),
    Column("payload", Json, nullable=False),  # what is sent, as the subscription's owner may read it
    Column("status", String(16), nullable=False),  # pending, sending, delivered, dead, skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("response_status", Integer, nullable=True),
    Column("error", String(1000), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Index("ix_opsloom_deliveries_due", "status", "next_at"),
    Index("ix_opsloom_deliveries_subscription", "subscription_id", "id"),
)

delivery_attempts = Table(
    "opsloom_delivery_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, ForeignKey("opsloom_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered, failed, refused
    Column("response_status", Integer, nullable=True),
    Column("response_body", String(2000), nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("error", String(1000), nullable=True),
    Index("ix_opsloom_delivery_attempts_delivery", "delivery_id", "id"),
)

# ------------------------------------------------------- automations: runs and secrets

# One row per time an automation fired: for an event, a schedule's slot, or a record's date.
# The unique key makes firing exactly once: two workers that compute the same slot both
# insert it in the transaction of the actions, and only one of them commits.
automation_runs = Table(
    "opsloom_automation_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("automation_key", String(63), nullable=False),
    Column("fire_key", String(120), nullable=False),  # evt:<id>, cron:<slot>[:<record>], date:<record>:<day>
    Column("record_id", BigInteger, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),  # done, skipped (condition not met), failed
    Column("detail", Json, nullable=True),  # what the actions did, or the error
    UniqueConstraint("app_key", "automation_key", "fire_key", name="uq_opsloom_automation_runs_fire"),
    Index("ix_opsloom_automation_runs_latest", "app_key", "automation_key", "id"),
)

# Named secrets of an app ({{secret.name}} in an automation's HTTP request), encrypted with
# the platform's secret key; the API never answers a value.
app_secrets = Table(
    "opsloom_secrets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), ForeignKey("opsloom_apps.key"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("value", String(8000), nullable=False),  # AES-GCM: base64(nonce + ciphertext)
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("app_key", "name", name="uq_opsloom_secrets_name"),
)

# Template packages installed into an app, newest last: the documents a package installed are the
# base of the next upgrade's three-way comparison; `previous` holds the app's documents before it
# (the backup a rollback restores; None for a first install).
app_packages = Table(
    "opsloom_app_packages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("package_key", String(63), nullable=False),
    Column("version", String(32), nullable=False),
    Column("documents", Json, nullable=False),
    Column("previous", Json, nullable=True),
    Column("status", String(16), nullable=False),  # installed, rolled_back
    Column("installed_at", UTCDateTime, nullable=False),
    Column("installed_by", BigInteger, nullable=True),
    Index("ix_opsloom_app_packages_app", "app_key", "id"),
)

# The run-time settings an admin changed (platform/settings_store.py): one row, a JSON document of the
# values set, and a version every change raises, so other processes notice with one cheap read.
site_settings = Table(
    "opsloom_site_settings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("document", Json, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=True),
    Column("updated_by", BigInteger, nullable=True),
)
