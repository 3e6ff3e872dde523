"""SQLAlchemy tables: one per record type of the standard, plus the import log.

Record tables are derived from the pydantic models (same fields, natural key as primary key)
and each row carries ``import_id``: the import that last wrote its values.
Schema changes go through Alembic migrations in ``schoolmode/store/migrations``; a test checks
that the migrations produce exactly this metadata.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeEngine

from schoolmode.standard.fields import field_specs
from schoolmode.standard.models import RECORD_TYPES, Record
from schoolmode.store.metadata import metadata as metadata
from schoolmode.store.metadata import stamp as _stamp

import_log = Table(
    "import_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False, comment="Importer / source id."),
    Column("dataset", String(200), nullable=False, comment="Logical dataset a file replaces."),
    Column("record_type", String(64), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("imported_by", String(200), nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False, comment="current or superseded"),
    Column("supersedes_id", Integer, ForeignKey("import_log.id"), nullable=True),
    Column("rows_in_file", Integer, nullable=False),
    Column("rows_added", Integer, nullable=False),
    Column("rows_changed", Integer, nullable=False),
    Column("rows_removed", Integer, nullable=False),
    Column("rows_unchanged", Integer, nullable=False),
    Column("rows_skipped", Integer, nullable=False),
    Column("notes", Text, nullable=True),
    Index("ix_import_log_source_dataset", "source", "dataset"),
    Index("ix_import_log_file_sha256", "file_sha256"),
    # at most one current import per dataset, on both databases (migration 0010)
    Index(
        "uq_import_log_current",
        "source",
        "dataset",
        unique=True,
        sqlite_where=text("status = 'current'"),
        postgresql_where=text("status = 'current'"),
    ),
)

_SQL_TYPES: dict[str, type[TypeEngine[Any]]] = {
    "str": Text,
    "int": BigInteger,
    "float": Double,
    "date": Date,
    "bool": Boolean,
}


def _record_table(model: type[Record]) -> Table:
    specs = field_specs(model)
    columns = [
        Column(s.name, _SQL_TYPES[s.kind](), nullable=not s.required, comment=s.description)
        for s in specs
    ]
    name = model.record_name
    return Table(
        name,
        metadata,
        *columns,
        # a foreign key on SQLite; on PostgreSQL checked once per statement by triggers instead
        # (migration 0024; ``store.migrate.schema_diff`` compares knowing it)
        Column("import_id", Integer, ForeignKey("import_log.id"), nullable=False),
        PrimaryKeyConstraint(*model.natural_key),
        Index(f"ix_{name}_import_id", "import_id"),
        comment=(model.__doc__ or "").strip(),
    )


RECORD_TABLES: dict[str, Table] = {name: _record_table(m) for name, m in RECORD_TYPES.items()}


# ---------------------------------------------------------------------- decisions (append-only)

decision_run = Table(
    "decision_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy_id", String(100), nullable=False),
    Column(
        "policy_hash", String(80), nullable=False, comment="Content hash of the resolved policy."
    ),
    Column("policy_json", Text, nullable=False, comment="The resolved policy, canonical JSON."),
    Column("engine_version", String(20), nullable=False),
    Column(
        "settings_json", Text, nullable=False, comment="Interpretations and parameter overrides."
    ),
    Column("first_date", Date, nullable=False, comment="First day decided."),
    Column("last_date", Date, nullable=False, comment="Last day decided."),
    Column("inputs_sha256", String(64), nullable=False, comment="Digest of the input rows."),
    Column(
        "inputs_parquet", LargeBinary, nullable=False, comment="The input rows, Parquet per scope."
    ),
    *_stamp("created"),
    Index("ix_decision_run_policy_dates", "policy_id", "first_date", "last_date"),
    comment="One evaluation of a policy over stored inputs; never updated or deleted.",
)

decision = Table(
    "decision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("decision_run.id"), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("unit", String(100), nullable=False),
    Column("date", Date, nullable=False),
    Column("mode", String(64), nullable=False),
    Column("status", String(80), nullable=False),
    Column("rule", String(100), nullable=True),
    Column("action", String(16), nullable=True, comment="automatic or eligible"),
    Column(
        "decided_by",
        String(200),
        nullable=True,
        comment="The body that decides, for eligible rules.",
    ),
    Column("trace_json", Text, nullable=True),
    Column("explanation", Text, nullable=True),
    Index("ix_decision_date_unit", "date", "scope", "unit"),
    Index("ix_decision_run_day", "run_id", "date", "scope", "unit"),
    Index("ix_decision_unit_date", "scope", "unit", "date"),
    comment="A unit's mode on a day under a run; never updated or deleted.",
)

authorisation = Table(
    "authorisation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy_id", String(100), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("unit", String(100), nullable=False),
    Column("date", Date, nullable=False, comment="First day of the decided mode."),
    Column("decided_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    *_stamp("recorded"),
    Index("ix_authorisation_policy_unit", "policy_id", "unit", "date"),
    comment="A named body's decision on an eligible rule (e.g. the CPS Tactical Team); append-only.",
)

refusal = Table(
    "refusal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy_id", String(100), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("unit", String(100), nullable=False),
    Column("date", Date, nullable=False, comment="The day the eligible change was refused for."),
    Column("decided_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    *_stamp("recorded"),
    Index("ix_refusal_policy_unit", "policy_id", "unit", "date"),
    comment=(
        "A named body's refusal to act on an eligible rule, with its reason (migration 0020); "
        "append-only."
    ),
)

APPEND_ONLY = ("decision_run", "decision", "authorisation")
REFUSAL_APPEND_ONLY = ("refusal",)


# ---------------------------------------------------------------------- staff accommodations
# (append-only; the requests themselves are the standard ``accommodation_request`` records)

accommodation_review = Table(
    "accommodation_review",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy_id", String(100), nullable=False),
    Column("on_date", Date, nullable=False, comment="Day the policy was read for."),
    Column("seed", BigInteger, nullable=False, comment="Lottery seed, drawn in the open."),
    Column("settings_json", Text, nullable=False, comment="Interpretation and parameter settings."),
    Column(
        "pools_json",
        Text,
        nullable=False,
        comment="Per kind: share, counts, places and the ranked lottery list.",
    ),
    *_stamp("created"),
    Column(
        "commitment_id",
        Integer,
        nullable=True,
        comment="The lottery_commitment revealed (none: reviews before commitments).",
    ),
    Column(
        "seed_nonce",
        String(64),
        nullable=True,
        comment="The commitment's nonce, revealed with the seed.",
    ),
    comment="One selection run over pending accommodation requests; never updated or deleted.",
)

lottery_commitment = Table(
    "lottery_commitment",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("on_date", Date, nullable=False, comment="Day of the review."),
    Column("policy_id", String(100), nullable=False),
    Column("settings_json", Text, nullable=False, comment="Interpretation and parameter settings."),
    Column(
        "rules_json",
        Text,
        nullable=False,
        comment="The quota rule: each kind's share and source, the rounding.",
    ),
    Column(
        "pool_sha256",
        String(64),
        nullable=False,
        comment="sha256 of the eligible pending request ids, sorted, one a line.",
    ),
    Column("pool_size", Integer, nullable=False),
    Column(
        "commitment_sha256",
        String(64),
        nullable=False,
        unique=True,
        comment='sha256("schoolmode-lottery:<nonce>:<seed>"); never the seed.',
    ),
    *_stamp("created"),
    comment="A lottery seed committed before the draw; never updated or deleted.",
)

accommodation_decision = Table(
    "accommodation_decision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("review_id", Integer, ForeignKey("accommodation_review.id"), nullable=True),
    Column(
        "appeal_id",
        Integer,
        nullable=True,
        comment="The appeal this decision answers (accommodation_appeal.id), if any.",
    ),
    Column(
        "supersedes_id",
        Integer,
        ForeignKey("accommodation_decision.id"),
        nullable=True,
        comment="The decision this one replaces (on appeal).",
    ),
    Column("request_id", String(100), nullable=False),
    Column("person_id", String(100), nullable=False),
    Column("basis", String(64), nullable=False),
    Column("outcome", String(16), nullable=False, comment="granted or denied"),
    Column(
        "rule", String(32), nullable=False, comment="all_granted, lottery, no_provision or appeal"
    ),
    Column("lottery_rank", Integer, nullable=True),
    Column("pool_size", Integer, nullable=True),
    Column("places", Integer, nullable=True, comment="Free places in the lottery."),
    Column("reason", Text, nullable=False),
    Column("decided_on", Date, nullable=False),
    *_stamp("recorded"),
    Index("ix_accommodation_decision_request_id", "request_id"),
    comment="A decision on an accommodation request, with its reason; never updated or deleted.",
)

accommodation_appeal = Table(
    "accommodation_appeal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", Integer, ForeignKey("accommodation_decision.id"), nullable=False),
    Column("request_id", String(100), nullable=False),
    Column("filed_on", Date, nullable=False),
    Column("grounds", Text, nullable=False),
    *_stamp("recorded"),
    Index("ix_accommodation_appeal_request_id", "request_id"),
    comment="An appeal against a decision; its outcome is a new decision. Append-only.",
)

# ---------------------------------------------------------------------- staff vaccination (append-only)

vaccination_schedule_run = Table(
    "vaccination_schedule_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy_id", String(100), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("weeks", Integer, nullable=False),
    Column("rules_json", Text, nullable=False, comment="The policy's scheduling rules as read."),
    Column("sites_json", Text, nullable=False, comment="Sites and daily capacities; [] if none."),
    Column("staff", Integer, nullable=False),
    *_stamp("created"),
    comment="One recorded staff vaccination schedule; never updated or deleted.",
)

vaccination_appointment = Table(
    "vaccination_appointment",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("vaccination_schedule_run.id"), nullable=False),
    Column("person_id", String(100), nullable=False),
    Column("dose", Integer, nullable=False),
    Column("date", Date, nullable=False),
    Column("site_id", String(200), nullable=False),
    Index("ix_vaccination_appointment_run_id", "run_id"),
    Index("ix_vaccination_appointment_person_id", "person_id"),
    comment="A planned dose of a recorded schedule; never updated or deleted.",
)

STAFF_APPEND_ONLY = (
    "accommodation_review",
    "accommodation_decision",
    "accommodation_appeal",
    "vaccination_schedule_run",
    "vaccination_appointment",
)

LOTTERY_APPEND_ONLY = ("lottery_commitment",)


# ---------------------------------------------------------------------- screening (issue 6)

screening_plan = Table(
    "screening_plan",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy_id", String(100), nullable=False),
    Column("week_start", Date, nullable=False, comment="Monday of the week planned."),
    Column("seed", BigInteger, nullable=False, comment="Recorded seed of the random selection."),
    Column("parameters_day", Date, nullable=False, comment="Day whose parameter values were used."),
    Column("settings_json", Text, nullable=False, comment="Parameters and readings the plan used."),
    Column("top_zips_json", Text, nullable=False, comment="The month's highest-case ZIP codes."),
    Column("schools_json", Text, nullable=False, comment="Per-school targets and shortfalls."),
    *_stamp("created"),
    Index("ix_screening_plan_week", "week_start", "policy_id"),
    comment="One week's screening plan; never updated or deleted.",
)

screening_pool_member = Table(
    "screening_pool_member",
    metadata,
    Column("plan_id", Integer, ForeignKey("screening_plan.id"), nullable=False),
    Column("person_id", Text, nullable=False),
    Column("pool_id", String(100), nullable=False),
    Column("school_id", Text, nullable=False),
    Column("person_group", String(16), nullable=False, comment="student or staff"),
    PrimaryKeyConstraint("plan_id", "person_id"),
    Index("ix_screening_pool_member_pool", "plan_id", "pool_id"),
    comment="A person selected for screening in a plan, and the pool of their specimen.",
)

screening_result = Table(
    "screening_result",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", Integer, ForeignKey("screening_plan.id"), nullable=False),
    Column("specimen_id", String(100), nullable=False),
    Column("pool_id", String(100), nullable=True, comment="Set for a pool result."),
    Column("person_id", Text, nullable=True, comment="Set for an individual (retest) result."),
    Column("result", String(16), nullable=False),
    Column("specimen_date", Date, nullable=False),
    Column("result_date", Date, nullable=True),
    Column("file_name", Text, nullable=False),
    Column("file_row", Integer, nullable=False),
    *_stamp("recorded"),
    Index("ix_screening_result_specimen", "plan_id", "specimen_id", unique=True),
    comment="A pool or individual screening result; one per specimen, never updated or deleted.",
)

screening_exception = Table(
    "screening_exception",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", Integer, ForeignKey("screening_plan.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_row", Integer, nullable=False),
    Column("field", String(64), nullable=False),
    Column("value", Text, nullable=True),
    Column("detail", Text, nullable=False),
    Column("row_json", Text, nullable=False, comment="The result row as read."),
    *_stamp("recorded"),
    Column("status", String(16), nullable=False, comment="open or resolved"),
    *_stamp("resolved", nullable=True),
    Column("resolution", Text, nullable=True),
    Index("ix_screening_exception_status", "status", "plan_id"),
    comment="A result row that needs a person: kept whole until resolved (resolved once).",
)


# ------------------------------------------- contact tracing and outbreaks (append-only, 0005)

trace_run = Table(
    "trace_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cases", Integer, nullable=False, comment="Cases traced in the run."),
    Column("case_ids_sha256", String(64), nullable=False, comment="Digest of the traced case ids."),
    Column(
        "policies_json",
        Text,
        nullable=False,
        comment="Policy id -> content hash of every policy the rules were read from.",
    ),
    Column(
        "rules_json", Text, nullable=False, comment="The rule periods in force (canonical JSON)."
    ),
    Column("local_json", Text, nullable=False, comment="The district's own quarantine parameters."),
    *_stamp("created"),
    comment="One tracing of stored cases by the rules in force; never updated or deleted.",
)

traced_contact = Table(
    "traced_contact",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("trace_run.id"), nullable=False),
    Column("case_id", Text, nullable=False),
    Column("person_id", Text, nullable=False, comment="Pseudonymous id of the close contact."),
    Column("setting", String(16), nullable=False, comment="homeroom or household"),
    Column("classroom_id", Text, nullable=True),
    Column("last_exposure", Date, nullable=False, comment="Day 0."),
    Column("attendance", String(16), nullable=False, comment="quarantine, test_to_stay or exempt"),
    Column("rule", Text, nullable=False),
    Column("policy_id", String(100), nullable=False),
    Index("ix_traced_contact_case", "case_id", "person_id"),
    comment="A close contact of a case as found by a trace run; never updated or deleted.",
)

traced_order = Table(
    "traced_order",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("trace_run.id"), nullable=False),
    Column("order_id", Text, nullable=False),
    Column("status", String(16), nullable=False, comment="issued or withdrawn"),
    Column("person_id", Text, nullable=False),
    Column("kind", String(16), nullable=False, comment="quarantine or isolation"),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("case_id", Text, nullable=False),
    Column("classroom_id", Text, nullable=True),
    Column("rule", Text, nullable=False, comment="The rule in force that set the end."),
    Column("policy_id", String(100), nullable=False, comment="Policy the rule was read from."),
    Column("policy_hash", String(80), nullable=False, comment="Content hash of that policy then."),
    Index("ix_traced_order_order_id", "order_id"),
    Index("ix_traced_order_person", "person_id", "start_date"),
    comment=(
        "An order as issued by a trace run (the latest row of an order_id is its state); "
        "overlapping orders are merged on reading; never updated or deleted."
    ),
)

trace_exception = Table(
    "trace_exception",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("trace_run.id"), nullable=False),
    Column("case_id", Text, nullable=False),
    Column("person_id", Text, nullable=False),
    Column("reason", Text, nullable=False),
    comment="A case a trace run could not trace (queued for a person); never updated or deleted.",
)

outbreak_confirmation = Table(
    "outbreak_confirmation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("classroom_id", Text, nullable=False, comment="Core group (homeroom)."),
    Column("detected_on", Date, nullable=False, comment="Day the definition was met."),
    Column("confirmed", Boolean, nullable=False, comment="The health department's answer."),
    Column("decided_by", String(200), nullable=False, comment="Local health department."),
    Column("decided_on", Date, nullable=False),
    Column("note", Text, nullable=True),
    *_stamp("recorded"),
    Index("ix_outbreak_confirmation_room", "classroom_id", "detected_on"),
    comment=(
        "The local health department's decision on a detected outbreak; the latest row for a "
        "classroom and day stands; never updated or deleted."
    ),
)

TRACING_APPEND_ONLY = (
    "trace_run",
    "traced_contact",
    "traced_order",
    "trace_exception",
    "outbreak_confirmation",
)


# ---------------------------------------------------------------------- access (accounts, tokens)

account = Table(
    "account",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(40), nullable=False, comment="access.roles.Role"),
    Column("scope", String(200), nullable=False, comment="district, network:ID or school:ID"),
    Column("password_hash", Text, nullable=True, comment="argon2id; none: tokens only."),
    *_stamp("created"),
    *_stamp("disabled", nullable=True),
    Column(
        "oidc_subject",
        String(255),
        nullable=True,
        comment="The OpenID provider's `sub` of this person; none: no OpenID login.",
    ),
    Index("uq_account_oidc_subject", "oidc_subject", unique=True),
    comment="A person or service that logs in; disabled, never deleted.",
)

api_token = Table(
    "api_token",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("account.id"), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True, comment="Never the token."),
    Column("kind", String(16), nullable=False, comment="service (created) or login (password)"),
    Column("label", String(200), nullable=False),
    *_stamp("created"),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    *_stamp("revoked", nullable=True),
    comment="A bearer token of an account, stored as its sha256; revoked, never deleted.",
)

web_session = Table(
    "web_session",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_sha256", String(64), nullable=False, unique=True, comment="Never the cookie."),
    Column("account_id", Integer, ForeignKey("account.id"), nullable=False),
    Column("via", String(16), nullable=False, comment="password or oidc"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, comment="Absolute timeout."),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, comment="Idle timeout."),
    *_stamp("revoked", nullable=True),
    comment="A browser's login (cookie), stored as the cookie's sha256; revoked, never deleted.",
)

oidc_login = Table(
    "oidc_login",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state_sha256", String(64), nullable=False, unique=True, comment="Never the state."),
    Column("nonce", String(100), nullable=False),
    Column("code_verifier", String(200), nullable=False, comment="PKCE (S256)."),
    Column("redirect_uri", String(1000), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True, comment="Used once at most."),
    comment="An OpenID Connect login under way: its state, nonce and PKCE verifier.",
)

access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("principal", String(100), nullable=True, comment="Account name; none: anonymous."),
    Column("role", String(40), nullable=False),
    Column("scope", String(200), nullable=False),
    Column("action", String(16), nullable=False, comment="read (personal data) or write"),
    Column("method", String(8), nullable=False),
    Column("route", String(200), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("rows", Integer, nullable=True, comment="Rows returned, for a read."),
    Index("ix_access_log_at", "at"),
    comment="Every read of personal data and every write, by whom; never updated or deleted.",
)

ACCESS_APPEND_ONLY = ("access_log",)


# ---------------------------------------------------------------------- the hash chain

chain_link = Table(
    "chain_link",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_table", String(40), nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("content_sha256", String(64), nullable=False, comment="Digest of the record."),
    Column("prev_sha256", String(64), nullable=False, unique=True, comment="The link before."),
    Column("link_sha256", String(64), nullable=False, unique=True),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    Index("ix_chain_link_record", "record_table", "record_id", unique=True),
    comment=(
        "One link per audit record (decision runs, authorisations, the access log): the "
        "record's digest and the previous link's; never updated or deleted."
    ),
)

CHAIN_APPEND_ONLY = ("chain_link",)

# ---------------------------------------------------------------------- jobs of the API

job = Table(
    "job",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False, comment="backtest, sweep or simulation"),
    Column("request_json", Text, nullable=False, comment="The canonical request (sorted JSON)."),
    Column(
        "key_sha256",
        String(64),
        nullable=False,
        comment="sha256 of kind, request, software version and input digest: one result each.",
    ),
    Column("software_version", String(40), nullable=False),
    Column("inputs_sha256", String(64), nullable=False, comment="Digest of what the job reads."),
    Column("status", String(10), nullable=False, comment="queued, running, done or failed"),
    Column("message", Text, nullable=True, comment="Why it failed."),
    Column("stage", String(200), nullable=True, comment="What it is doing now."),
    Column("progress", Double, nullable=False, comment="Share done, 0 to 1."),
    *_stamp("submitted"),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_job_key_sha256", "key_sha256"),
    comment="A backtest, sweep or simulation run for the API: its request, state and result.",
)

job_file = Table(
    "job_file",
    metadata,
    Column("job_id", Integer, ForeignKey("job.id"), nullable=False),
    Column("name", String(200), nullable=False, comment="Path within the report folder."),
    Column("media_type", String(100), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    PrimaryKeyConstraint("job_id", "name"),
    comment="The files a finished job wrote (its report), kept with their sha256; never changed.",
)

JOB_APPEND_ONLY = ("job_file",)

# ---------------------------------------------------------------------- alerts

alert_subscription = Table(
    "alert_subscription",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False, comment="webhook or email"),
    Column("target", String(500), nullable=False, comment="The URL, or the e-mail address."),
    Column(
        "school_id",
        String(40),
        nullable=True,
        comment="The school followed; none: the district and every school.",
    ),
    Column(
        "secret",
        String(64),
        nullable=True,
        comment="A webhook's signing key (HMAC-SHA256 of each body), shown once.",
    ),
    *_stamp("created"),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_by", String(200), nullable=True),
    Column("confirm_sha256", String(64), comment="sha256 of the e-mailed confirmation token."),
    Column("confirmed_at", DateTime(timezone=True), comment="None: not confirmed, told nothing."),
    Column("manage_token", String(64), comment="The unsubscribe link's token (e-mail sign-ups)."),
    Column("language", String(8), comment="The language of the sign-up (its confirmation e-mail)."),
    comment="Who is told when a mode or status changes: a webhook or an e-mail address.",
)

alert_delivery = Table(
    "alert_delivery",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, ForeignKey("alert_subscription.id"), nullable=False),
    Column("scope", String(10), nullable=False),
    Column("unit", String(100), nullable=False),
    Column("date", Date, nullable=False, comment="The day of the change."),
    Column("run_id", Integer, ForeignKey("decision_run.id"), nullable=False),
    Column("status", String(10), nullable=False, comment="sent or failed"),
    Column("detail", Text, nullable=True, comment="The answer, or why it failed."),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_alert_delivery_key", "subscription_id", "scope", "unit", "date", "run_id"),
    comment="Each attempt to tell a subscription of a change; never updated or deleted.",
)

ALERT_APPEND_ONLY = ("alert_delivery",)

# ---------------------------------------------------------------------- concerns

CONCERN_STEPS = "acknowledged, answered, closed, reopened or comment (status unchanged)."

concern = Table(
    "concern",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(40), comment="The school concerned; none: the district as a whole."),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    *_stamp("filed"),
    Column("filed_role", String(40), nullable=False, comment="The role of the account."),
    Index("ix_concern_school", "school_id"),
    comment="A safety concern filed by the union's safety committee (migration 0021); "
    "append-only: what follows is in concern_event.",
)

concern_event = Table(
    "concern_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("concern_id", Integer, ForeignKey("concern.id"), nullable=False),
    Column("status", String(20), nullable=False, comment=CONCERN_STEPS),
    Column("note", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Index("ix_concern_event_concern", "concern_id"),
    comment="Each answer to, or follow-up of, a concern; never updated or deleted.",
)

CONCERN_APPEND_ONLY = ("concern", "concern_event")

# ------------------------------------------------- public releases (their own module: size)

from schoolmode.store.release_tables import EVIDENCE_APPEND_ONLY as EVIDENCE_APPEND_ONLY  # noqa: E402
from schoolmode.store.release_tables import (  # noqa: E402
    RELEASE_APPEND_ONLY as RELEASE_APPEND_ONLY,
)
from schoolmode.store.release_tables import evidence as evidence  # noqa: E402
from schoolmode.store.release_tables import public_release as public_release  # noqa: E402
from schoolmode.store.release_tables import (  # noqa: E402
    public_release_input as public_release_input,
)
from schoolmode.store.release_tables import (  # noqa: E402
    public_release_table as public_release_table,
)
