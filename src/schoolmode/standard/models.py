"""Record types of the data standard.

Conventions:
- identifiers are opaque strings chosen by the district (``district_id``, ``school_id``...);
  people carry **pseudonymous** ids only: no names, birth dates or addresses anywhere;
- dates are calendar dates (ISO 8601 in CSV files), date ranges are inclusive at both ends and
  an open end is left blank;
- each record type names its *natural key*: the fields that identify one record. Importing a
  corrected file replaces records by that key.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """Base class of every record type."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    record_name: ClassVar[str]
    natural_key: ClassVar[tuple[str, ...]]
    date_order: ClassVar[tuple[tuple[str, str], ...]] = ()
    """Plausibility: pairs ``(earlier, later)`` of date fields; where both are given, the later
    is not before the earlier (checked on every import, listed in the data standard)."""


# --------------------------------------------------------------------------- enumerations


class SchoolLevel(StrEnum):
    """Level of a school as the district classifies it."""

    ES = "ES"
    MS = "MS"
    HS = "HS"


class PersonRole(StrEnum):
    """Role of a person in a school community."""

    STUDENT = "student"
    CLASSROOM_TEACHER = "classroom_teacher"
    OTHER_STAFF = "other_staff"


class CaseStatus(StrEnum):
    """Case classification (CSTE): confirmed by a molecular test, or probable."""

    CONFIRMED = "confirmed"
    PROBABLE = "probable"


class TestType(StrEnum):
    """Kind of diagnostic test."""

    __test__ = False  # not a pytest test class

    PCR = "PCR"
    ANTIGEN = "antigen"
    LAMP = "LAMP"


class TestResult(StrEnum):
    """Result of one test."""

    __test__ = False  # not a pytest test class

    POSITIVE = "positive"
    NEGATIVE = "negative"
    INVALID = "invalid"
    INCONCLUSIVE = "inconclusive"


class AbsenceReason(StrEnum):
    """Why a person is absent; policies count some reasons and not others."""

    DOCUMENTED_POSITIVE = "documented_positive"
    DIRECTED_QUARANTINE_ISOLATION = "directed_quarantine_isolation"
    PERSONAL = "personal"
    SELF_REPORTED_UNCONFIRMED = "self_reported_unconfirmed"


class OrderKind(StrEnum):
    """Kind of public-health order."""

    QUARANTINE = "quarantine"
    ISOLATION = "isolation"


class AccommodationStatus(StrEnum):
    """Decision state of an accommodation request."""

    PENDING = "pending"
    GRANTED = "granted"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


class GeographyType(StrEnum):
    """Kind of geography a community indicator or population count refers to."""

    COUNTRY = "country"
    STATE = "state"
    PROVINCE = "province"
    COUNTY = "county"
    CITY = "city"
    ZIP = "zip"
    DISTRICT = "district"
    SCHOOL = "school"


# --------------------------------------------------------------------------- organisation


class District(Record):
    """A school district: the top unit a decision can apply to."""

    record_name: ClassVar[str] = "district"
    natural_key: ClassVar[tuple[str, ...]] = ("district_id",)

    district_id: str = Field(description="District identifier chosen by the district (e.g. `CPS`).")
    name: str = Field(description="Official name of the district.")
    state: str = Field(description="Two-letter US state or province code (e.g. `IL`).")
    nces_id: str | None = Field(default=None, description="NCES LEA id where known.")


class School(Record):
    """A school building or program as listed by the district for one school year."""

    record_name: ClassVar[str] = "school"
    natural_key: ClassVar[tuple[str, ...]] = ("school_id", "school_year")

    school_id: str = Field(description="District's school id (CPS `School_ID`).")
    school_year: str = Field(
        description="School year the row describes, `YYYY-YYYY` (e.g. `2021-2022`)."
    )
    district_id: str = Field(description="District the school belongs to.")
    state_id: str | None = Field(
        default=None, description="State or legacy id (CPS `Legacy_Unit_ID`)."
    )
    name: str = Field(description="Long name of the school.")
    short_name: str | None = Field(default=None, description="Short name used in district lists.")
    level: SchoolLevel = Field(description="Primary level: ES, MS or HS.")
    grades: str = Field(description="Grades offered, comma-separated codes (`PK,K,1,...,12`).")
    zip: str | None = Field(default=None, description="Five-digit ZIP code of the building.")
    latitude: float | None = Field(
        default=None, description="Latitude (WGS84 degrees).", ge=-90, le=90
    )
    longitude: float | None = Field(
        default=None, description="Longitude (WGS84 degrees).", ge=-180, le=180
    )
    enrolment: int = Field(description="Students enrolled (district count for the year).", ge=0)
    network: str | None = Field(default=None, description="Administrative network or sub-district.")


class CalendarDay(Record):
    """One day of a school calendar: instructional or not, and why not."""

    record_name: ClassVar[str] = "calendar_day"
    natural_key: ClassVar[tuple[str, ...]] = ("calendar_id", "date")

    calendar_id: str = Field(
        description="Calendar identifier (a district may run several calendars)."
    )
    district_id: str = Field(description="District whose calendar this is.")
    date: dt.date = Field(description="Calendar date.")
    instructional: bool = Field(description="True when students are taught on this day.")
    holiday: str | None = Field(
        default=None, description="Name of the holiday or break when not instructional."
    )


class Classroom(Record):
    """A classroom or homeroom: the smallest unit a mode decision can apply to."""

    record_name: ClassVar[str] = "classroom"
    natural_key: ClassVar[tuple[str, ...]] = ("classroom_id",)

    classroom_id: str = Field(
        description="Classroom (homeroom) identifier, unique in the district."
    )
    school_id: str = Field(description="School the classroom belongs to.")
    school_year: str = Field(description="School year, `YYYY-YYYY`.")
    grade: str = Field(description="Grade code (`PK`, `K`, `1`...`12`) or `mixed`.")
    capacity: int | None = Field(default=None, description="Seats available in person.", ge=0)


class Person(Record):
    """A student or staff member, by pseudonymous id only (never a name)."""

    record_name: ClassVar[str] = "person"
    natural_key: ClassVar[tuple[str, ...]] = ("person_id",)

    person_id: str = Field(
        description="Pseudonymous id; must not be derivable from a name or a district id."
    )
    role: PersonRole = Field(description="student, classroom_teacher or other_staff.")
    age_years: int | None = Field(
        default=None,
        description="Age in whole years at the start of the school year.",
        ge=0,
        le=120,
    )
    household_id: str | None = Field(
        default=None, description="Pseudonymous household the person lives in."
    )


class Household(Record):
    """A household: links people who live together (pseudonymous)."""

    record_name: ClassVar[str] = "household"
    natural_key: ClassVar[tuple[str, ...]] = ("household_id",)

    household_id: str = Field(description="Pseudonymous household id.")
    zip: str | None = Field(
        default=None, description="ZIP code of residence (five digits), if known."
    )
    size: int | None = Field(default=None, description="Number of residents, if known.", ge=1)


class Enrolment(Record):
    """A student's enrolment in a classroom over a date range."""

    record_name: ClassVar[str] = "enrolment"
    natural_key: ClassVar[tuple[str, ...]] = ("person_id", "classroom_id", "start_date")
    date_order: ClassVar[tuple[tuple[str, str], ...]] = (("start_date", "end_date"),)

    person_id: str = Field(description="Pseudonymous student id.")
    classroom_id: str = Field(description="Classroom the student is enrolled in.")
    start_date: dt.date = Field(description="First day of the enrolment (inclusive).")
    end_date: dt.date | None = Field(
        default=None, description="Last day (inclusive); blank while current."
    )
    learning_choice: str | None = Field(
        default=None, description="Family's declared choice, `in_person` or `remote`, if any."
    )


class StaffAssignment(Record):
    """A staff member's assignment to a school or classroom over a date range."""

    record_name: ClassVar[str] = "staff_assignment"
    natural_key: ClassVar[tuple[str, ...]] = ("person_id", "school_id", "start_date")
    date_order: ClassVar[tuple[tuple[str, str], ...]] = (("start_date", "end_date"),)

    person_id: str = Field(description="Pseudonymous staff id.")
    school_id: str = Field(description="School of the assignment.")
    classroom_id: str | None = Field(
        default=None, description="Classroom for classroom teachers; blank otherwise."
    )
    role: PersonRole = Field(description="classroom_teacher or other_staff.")
    start_date: dt.date = Field(description="First day (inclusive).")
    end_date: dt.date | None = Field(
        default=None, description="Last day (inclusive); blank while current."
    )
    fte: float | None = Field(
        default=None, description="Full-time equivalent of the assignment (0..1).", ge=0, le=1
    )


# --------------------------------------------------------------------------- health events


class Case(Record):
    """A case of the pathogen in a member of the school community."""

    record_name: ClassVar[str] = "case"
    natural_key: ClassVar[tuple[str, ...]] = ("case_id",)

    case_id: str = Field(description="Case identifier.")
    person_id: str = Field(description="Pseudonymous person id.")
    pathogen: str = Field(
        description="Pathogen id from the pathogen configuration (e.g. `sars-cov-2`)."
    )
    specimen_date: dt.date | None = Field(
        default=None, description="Date the positive specimen was collected."
    )
    onset_date: dt.date | None = Field(
        default=None, description="Symptom onset date; blank if asymptomatic or unknown."
    )
    report_date: dt.date = Field(description="Date the school or district was notified.")
    status: CaseStatus = Field(description="confirmed or probable.")
    household_linked: bool = Field(
        description="True when the case is linked to an earlier case in the same household."
    )
    linked_case_id: str | None = Field(
        default=None, description="The earlier case it is linked to, if known."
    )
    on_site_during_infectious_period: bool | None = Field(
        default=None, description="Whether the person was in a school building while infectious."
    )


class Test(Record):
    """One diagnostic test (or one pool) taken by a member of the school community."""

    __test__: ClassVar[bool] = False  # not a pytest test class
    record_name: ClassVar[str] = "test"
    natural_key: ClassVar[tuple[str, ...]] = ("test_id",)
    date_order: ClassVar[tuple[tuple[str, str], ...]] = (("specimen_date", "result_date"),)

    test_id: str = Field(description="Test identifier.")
    person_id: str | None = Field(
        default=None, description="Pseudonymous person tested; blank for a pool result."
    )
    pool_id: str | None = Field(
        default=None, description="Pool the specimen was part of, if pooled."
    )
    specimen_date: dt.date = Field(description="Date the specimen was collected.")
    result_date: dt.date | None = Field(default=None, description="Date the result was known.")
    test_type: TestType = Field(description="PCR, antigen or LAMP.")
    result: TestResult = Field(description="positive, negative, invalid or inconclusive.")
    screening: bool = Field(
        description="True for a screening test, false for a diagnostic (symptomatic or exposure) test."
    )


class TestingConsent(Record):
    """A person's consent to screening tests over a date range (opt-in testing)."""

    __test__: ClassVar[bool] = False  # not a pytest test class
    record_name: ClassVar[str] = "testing_consent"
    natural_key: ClassVar[tuple[str, ...]] = ("person_id", "start_date")
    date_order: ClassVar[tuple[tuple[str, str], ...]] = (("start_date", "end_date"),)

    person_id: str = Field(description="Pseudonymous person id (student or staff).")
    start_date: dt.date = Field(description="First day the consent holds (inclusive).")
    end_date: dt.date | None = Field(
        default=None, description="Last day (inclusive) when withdrawn; blank while it holds."
    )


class Absence(Record):
    """A person's absence on one school day, with a reason code."""

    record_name: ClassVar[str] = "absence"
    natural_key: ClassVar[tuple[str, ...]] = ("person_id", "date")

    person_id: str = Field(description="Pseudonymous person id.")
    school_id: str = Field(description="School the person was expected at.")
    date: dt.date = Field(description="Day of absence.")
    reason: AbsenceReason = Field(
        description="documented_positive, directed_quarantine_isolation, personal or self_reported_unconfirmed."
    )


class SubstituteCoverage(Record):
    """Whether an absent teacher's class was covered by a substitute on a day."""

    record_name: ClassVar[str] = "substitute_coverage"
    natural_key: ClassVar[tuple[str, ...]] = ("classroom_id", "date")

    classroom_id: str = Field(description="Classroom whose teacher was absent.")
    date: dt.date = Field(description="School day.")
    absent_person_id: str = Field(description="Pseudonymous id of the absent teacher.")
    covered: bool = Field(
        description="True when a substitute or other staff member covered the class."
    )
    substitute_person_id: str | None = Field(
        default=None, description="Pseudonymous id of the person covering, if any."
    )


class QuarantineOrder(Record):
    """A quarantine or isolation order issued to a person."""

    record_name: ClassVar[str] = "quarantine_order"
    natural_key: ClassVar[tuple[str, ...]] = ("order_id",)
    date_order: ClassVar[tuple[tuple[str, str], ...]] = (("start_date", "end_date"),)

    order_id: str = Field(description="Order identifier.")
    person_id: str = Field(description="Pseudonymous person id.")
    kind: OrderKind = Field(description="quarantine (exposed) or isolation (infected).")
    start_date: dt.date = Field(description="First day of the order (inclusive).")
    end_date: dt.date = Field(description="Last day of the order (inclusive).")
    case_id: str | None = Field(default=None, description="Case that triggered the order, if any.")
    classroom_id: str | None = Field(
        default=None, description="Classroom quarantined with the person, if a classroom order."
    )


class Vaccination(Record):
    """One vaccine dose given to a person."""

    record_name: ClassVar[str] = "vaccination"
    natural_key: ClassVar[tuple[str, ...]] = ("person_id", "dose")

    person_id: str = Field(description="Pseudonymous person id.")
    dose: int = Field(
        description="Dose number in the person's series (1 = first dose; boosters continue the count).",
        ge=1,
    )
    date: dt.date = Field(description="Date the dose was given.")
    product: str = Field(
        description="Vaccine product (e.g. `Pfizer-BioNTech`, `Moderna`, `Janssen`)."
    )


class AccommodationRequest(Record):
    """A staff member's request to work remotely (e.g. ADA or household high-risk)."""

    record_name: ClassVar[str] = "accommodation_request"
    natural_key: ClassVar[tuple[str, ...]] = ("request_id",)
    date_order: ClassVar[tuple[tuple[str, str], ...]] = (("requested_date", "decided_date"),)

    request_id: str = Field(description="Request identifier.")
    person_id: str = Field(description="Pseudonymous staff id.")
    basis: str = Field(
        description="Ground of the request: `own_high_risk`, `household_high_risk`, `childcare` or other agreed code."
    )
    requested_date: dt.date = Field(description="Date the request was filed.")
    status: AccommodationStatus = Field(description="pending, granted, denied or withdrawn.")
    decided_date: dt.date | None = Field(
        default=None, description="Date of the decision, if decided."
    )


# --------------------------------------------------------------------------- community


class CommunityIndicator(Record):
    """An aggregate health indicator for a geography and day (or period ending that day)."""

    record_name: ClassVar[str] = "community_indicator"
    natural_key: ClassVar[tuple[str, ...]] = (
        "source",
        "geography_type",
        "geography",
        "date",
        "period_days",
        "metric",
    )

    source: str = Field(description="Source id of the dataset (e.g. `cdph-daily-testing`).")
    geography_type: GeographyType = Field(description="Kind of geography.")
    geography: str = Field(description="Geography code (`Chicago`, a ZIP, `IL`, `ON`...).")
    date: dt.date = Field(description="Day the value refers to; for a period, its first day.")
    period_days: int = Field(
        description="Length of the period the value covers in days (1 = one day, 7 = one week).",
        ge=1,
    )
    metric: str = Field(
        description="Metric name in snake_case (e.g. `tests_total`, `tests_positive`, `cases`)."
    )
    value: float | None = Field(
        default=None, description="Value; blank when the source suppressed or lacked it."
    )


class SchoolCaseReport(Record):
    """Cases a district reported for one school over a period (aggregate, no persons)."""

    record_name: ClassVar[str] = "school_case_report"
    natural_key: ClassVar[tuple[str, ...]] = ("source", "school_id", "date", "period_days")

    source: str = Field(description="Source id of the dataset.")
    school_id: str = Field(
        description="District's school id (`999999` = CPS administrative staff)."
    )
    school_name: str = Field(description="School name as given in the report.")
    date: dt.date = Field(description="Last day of the reporting period (the update date).")
    period_days: int = Field(
        description="Days covered by the count (7 for weekly updates, 1 for daily).", ge=1
    )
    cases: int = Field(
        description="New cases reported for the school in the period (students and staff).", ge=0
    )


class Population(Record):
    """Resident population of a geography for a year, an age group and a sex."""

    record_name: ClassVar[str] = "population"
    natural_key: ClassVar[tuple[str, ...]] = (
        "source",
        "geography_type",
        "geography",
        "year",
        "age_group",
        "sex",
    )

    source: str = Field(description="Source id of the dataset.")
    geography_type: GeographyType = Field(description="Kind of geography.")
    geography: str = Field(description="Geography code (`Chicago`, a ZIP...).")
    year: int = Field(description="Reference year of the estimate or count.", ge=1900, le=2100)
    age_group: str = Field(
        description="Age group, `all` or `LOW-HIGH` / `LOW+` in years (e.g. `5-11`, `80+`)."
    )
    sex: str = Field(description="`all`, `female` or `male`.")
    population: int = Field(description="Number of residents.", ge=0)


class ContactEvent(Record):
    """A face-to-face contact between two people during a short window (sensor data)."""

    record_name: ClassVar[str] = "contact_event"
    natural_key: ClassVar[tuple[str, ...]] = ("source", "t", "person_i", "person_j")

    source: str = Field(description="Source id of the dataset.")
    t: int = Field(
        description="Start of the 20-second window, seconds (dataset's own clock).", ge=0
    )
    person_i: str = Field(description="Pseudonymous id of the first person.")
    person_j: str = Field(description="Pseudonymous id of the second person.")
    class_i: str = Field(description="Class (or `Teachers`) of the first person.")
    class_j: str = Field(description="Class (or `Teachers`) of the second person.")


# --------------------------------------------------------------------------- configuration


class Pathogen(Record):
    """A pathogen as configuration: the durations that tracing and quarantine rules use."""

    record_name: ClassVar[str] = "pathogen"
    natural_key: ClassVar[tuple[str, ...]] = ("pathogen_id",)

    pathogen_id: str = Field(description="Pathogen id (e.g. `sars-cov-2`, `measles`, `influenza`).")
    name: str = Field(description="Display name.")
    incubation_days_min: int = Field(description="Shortest incubation period, days.", ge=0)
    incubation_days_max: int = Field(description="Longest incubation period, days.", ge=0)
    infectious_days_before_onset: int = Field(
        description="Days before symptom onset (or specimen date) a case counts as infectious.",
        ge=0,
    )
    infectious_days_after_onset: int = Field(
        description="Days after onset a case stays infectious.", ge=0
    )
    quarantine_days: int = Field(
        description="Length of quarantine for an exposed contact, days.", ge=0
    )
    isolation_days: int = Field(description="Length of isolation for a case, days.", ge=0)
    close_contact_minutes: int | None = Field(
        default=None,
        description="Cumulative minutes within the contact distance that define a close contact.",
        ge=0,
    )
    close_contact_distance_m: float | None = Field(
        default=None, description="Distance defining a close contact, metres.", ge=0
    )


RECORD_TYPES: dict[str, type[Record]] = {
    m.record_name: m
    for m in (
        District,
        School,
        CalendarDay,
        Classroom,
        Person,
        Household,
        Enrolment,
        StaffAssignment,
        Case,
        Test,
        TestingConsent,
        Absence,
        SubstituteCoverage,
        QuarantineOrder,
        Vaccination,
        AccommodationRequest,
        CommunityIndicator,
        SchoolCaseReport,
        Population,
        ContactEvent,
        Pathogen,
    )
}


def record_type(name: str) -> type[Record]:
    """The record type called ``name``; ``KeyError`` names the known ones."""
    try:
        return RECORD_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(RECORD_TYPES))
        raise KeyError(f"unknown record type {name!r}; known: {known}") from None
