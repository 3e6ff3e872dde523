"""Roles, scopes and permissions: one declarative table (``ROLE_PERMISSIONS``).

Every route of the API declares the one permission it needs; a principal holds a role and a
scope (the whole district, one network or one school). ``docs/roles.md`` is generated from
this module (``python -m schoolmode.access.docs``) and a test keeps it true.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Who a principal is, as the district and the union agreed to name them."""

    public = "public"
    district_operations = "district-operations"
    mode_authority = "mode-authority"
    union_safety_committee = "union-safety-committee"
    health_department = "health-department"
    hr = "hr"
    data_steward = "data-steward"
    auditor = "auditor"
    administrator = "administrator"


ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.public: "Anyone, without logging in: policies, modes, suppressed public figures.",
    Role.district_operations: "District operations staff: decision inputs with full counts, "
    "running the daily decision, the import log.",
    Role.mode_authority: "The body named in an agreement to authorise or refuse an eligible "
    "change of mode, with a reason.",
    Role.union_safety_committee: "The union's safety committee (district-wide or one school): "
    "decision inputs and full counts, the audit; no personal health details, no edits.",
    Role.health_department: "The health department: case detail, outbreaks and their "
    "confirmation, decision inputs.",
    Role.hr: "Human resources: accommodation requests with their medical basis.",
    Role.data_steward: "Imports and corrections of the source data, the import log.",
    Role.auditor: "Observer or auditor: read-only on the data, plus the decision audit and the "
    "access log; may try proposals in the playground (jobs change no stored data).",
    Role.administrator: "Users, tokens and settings; no case data.",
}


class Permission(StrEnum):
    """A resource and an action on it."""

    policies_read = "policies:read"
    decisions_read = "decisions:read"
    decisions_inputs = "decisions:inputs"
    decisions_run = "decisions:run"
    authorisations_read = "authorisations:read"
    authorisations_write = "authorisations:write"
    audit_read = "audit:read"
    access_log_read = "access-log:read"
    imports_read = "imports:read"
    accommodations_read = "accommodations:read"
    accommodations_write = "accommodations:write"
    cases_read = "cases:read"
    cases_write = "cases:write"
    outbreaks_read = "outbreaks:read"
    outbreaks_confirm = "outbreaks:confirm"
    screening_read = "screening:read"
    screening_records = "screening:records"
    screening_write = "screening:write"
    vaccination_plan = "vaccination:plan"
    imports_write = "imports:write"
    users_admin = "users:admin"
    jobs_run = "jobs:run"
    jobs_read = "jobs:read"
    concerns_read = "concerns:read"
    concerns_write = "concerns:write"
    concerns_answer = "concerns:answer"
    evidence_publish = "evidence:publish"


PERMISSION_DESCRIPTIONS: dict[Permission, str] = {
    Permission.policies_read: "Policies, their parameters, sources, worked cases and diffs.",
    Permission.decisions_read: "Each unit's mode by day and the policy that decided it.",
    Permission.decisions_inputs: "Explanations with the figures that decided (full counts).",
    Permission.decisions_run: "Run the daily decision and store it with its audit record.",
    Permission.authorisations_read: "The named bodies' recorded decisions on eligible rules.",
    Permission.authorisations_write: "Record a named body's decision on an eligible rule.",
    Permission.audit_read: "Decision runs with who ran them; reproduce a run from its record.",
    Permission.access_log_read: "The log of every access to personal data and every write.",
    Permission.imports_read: "The import log, the store's row counts, and fetch jobs with "
    "their reports.",
    Permission.accommodations_read: "Staff accommodation requests with their medical basis.",
    Permission.accommodations_write: "Import accommodation requests, commit a lottery seed, "
    "review, record appeals and their outcomes.",
    Permission.cases_read: "Case detail: quarantine and isolation orders of named (pseudonymous) "
    "people.",
    Permission.cases_write: "Trace a case: its close contacts and the orders, recorded.",
    Permission.outbreaks_read: "Classrooms meeting the outbreak definition, with full counts.",
    Permission.outbreaks_confirm: "Record the health department's decision on an outbreak.",
    Permission.screening_read: "Screening test positivity by week (counts, no person).",
    Permission.screening_records: "The screening exceptions queue and retests, person by person.",
    Permission.screening_write: "Plan a screening week, store lab results, resolve exceptions.",
    Permission.vaccination_plan: "Compute (and record) staff vaccination schedules, person by "
    "person.",
    Permission.imports_write: "Upload a source file, fetch a source from its publisher (a job).",
    Permission.users_admin: "Accounts and API tokens.",
    Permission.jobs_run: "Submit backtests, sweeps and simulations (jobs run on Dask); they change "
    "no stored data, so observers and auditors may try proposals too.",
    Permission.jobs_read: "Jobs, their state and report files: a backtest replays the whole "
    "district's full counts, so not public and not for a narrower scope.",
    Permission.concerns_read: "The union safety committee's concerns in scope, with every "
    "answer and follow-up.",
    Permission.concerns_write: "File a concern about a school in scope (or the district), "
    "comment on it, close or reopen it.",
    Permission.concerns_answer: "Answer a concern in scope: acknowledged, answered, closed, or a "
    "comment.",
    Permission.evidence_publish: "Publish a finished backtest, sweep or simulation job on the "
    "public evidence pages (after the small-count check of its files).",
}

_PUBLIC = frozenset({Permission.policies_read, Permission.decisions_read})
_INSIDE = _PUBLIC | {Permission.authorisations_read}
_INPUTS = _INSIDE | {
    Permission.decisions_inputs,
    Permission.audit_read,
    Permission.concerns_read,
}
_JOBS = frozenset({Permission.jobs_run, Permission.jobs_read, Permission.evidence_publish})

_COUNTS = frozenset({Permission.outbreaks_read, Permission.screening_read})
"""Full counts of operations, no person: for those who hold the decision inputs."""

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.public: _PUBLIC,
    Role.district_operations: _INPUTS
    | _COUNTS
    | _JOBS
    | {
        Permission.decisions_run,
        Permission.imports_read,
        Permission.screening_records,
        Permission.screening_write,
        Permission.vaccination_plan,
        Permission.concerns_answer,
    },
    Role.mode_authority: _INPUTS | _JOBS | {Permission.authorisations_write},
    Role.union_safety_committee: _INPUTS | _COUNTS | _JOBS | {Permission.concerns_write},
    Role.health_department: _INPUTS
    | _COUNTS
    | _JOBS
    | {
        Permission.cases_read,
        Permission.cases_write,
        Permission.outbreaks_confirm,
        Permission.screening_records,
    },
    Role.hr: _INSIDE
    | {
        Permission.accommodations_read,
        Permission.accommodations_write,
        Permission.vaccination_plan,
    },
    Role.data_steward: _INSIDE | {Permission.imports_read, Permission.imports_write},
    Role.auditor: _INPUTS
    | _COUNTS
    | {
        Permission.access_log_read,
        Permission.imports_read,
        Permission.jobs_read,
        Permission.jobs_run,  # an observer tries proposals (a job changes no stored data)
    },
    Role.administrator: _PUBLIC | {Permission.users_admin},
}
"""The table: what each role may do (within its scope)."""

DISTRICT_WIDE = frozenset(
    {Permission.decisions_run, Permission.imports_read, Permission.access_log_read}
    | {Permission.users_admin, Permission.accommodations_read, Permission.accommodations_write}
    | {Permission.imports_write, Permission.cases_write, Permission.outbreaks_confirm}
    | {Permission.screening_read, Permission.screening_records, Permission.screening_write}
    | {Permission.vaccination_plan}
    | _JOBS
)
"""Permissions that act on the whole store: held only by a principal of the district scope."""


class ScopeKind(StrEnum):
    district = "district"
    network = "network"
    school = "school"


@dataclass(frozen=True)
class Scope:
    """The units a principal may see: the whole district, one network's schools or one school
    (their classrooms included). A network scope covers the schools in ``schools``, filled
    from the store's school records when the principal's token or cookie is checked
    (``access/networks.py``); unresolved, it covers none."""

    kind: ScopeKind = ScopeKind.district
    unit: str | None = None
    schools: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return self.kind.value if self.unit is None else f"{self.kind.value}:{self.unit}"

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``district``, ``school:ID`` or ``network:ID``."""
        kind, _, unit = text.partition(":")
        try:
            scope_kind = ScopeKind(kind)
        except ValueError:
            raise ValueError(
                f"scope {text!r}: expected district, network:ID or school:ID"
            ) from None
        if scope_kind is ScopeKind.district:
            if unit:
                raise ValueError(f"scope {text!r}: the district scope names no unit")
            return cls()
        if not unit:
            raise ValueError(f"scope {text!r}: a {kind} scope names its unit ({kind}:ID)")
        return cls(scope_kind, unit)

    def covers_school(self, school: str) -> bool:
        if self.kind is ScopeKind.district:
            return True
        if self.kind is ScopeKind.school:
            return school == self.unit
        return school in self.schools


@dataclass(frozen=True)
class Principal:
    """Who asks: an account's name (None when anonymous), its role and scope."""

    name: str | None
    role: Role
    scope: Scope = Scope()

    @property
    def anonymous(self) -> bool:
        return self.name is None

    def may(self, permission: Permission) -> bool:
        if permission not in ROLE_PERMISSIONS[self.role]:
            return False
        return permission not in DISTRICT_WIDE or self.scope.kind is ScopeKind.district


ANONYMOUS = Principal(None, Role.public)
