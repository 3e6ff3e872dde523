"""Where each source's files come from: the publisher, the dataset, the column ``--since``
filters on, the licence. Keyed by the importer's source id; each file is named by its path
under a data folder (the importer's ``default_files``), so the fetch cache has the layout of
the shipped snapshot and ``import chicago --from CACHE`` reads it too."""

from __future__ import annotations

from dataclasses import dataclass

CHICAGO_TERMS = (
    "City of Chicago Data Portal terms of use "
    "(https://www.chicago.gov/city/en/narr/foia/data_disclaimer.html)"
)


@dataclass(frozen=True)
class SocrataDataset:
    """A dataset of the City of Chicago data portal (Socrata), read page by page from
    ``/resource/<id>.csv`` and written in the layout of the portal's CSV export (the shipped
    copy's header, dates as MM/DD/YYYY)."""

    file: str
    title: str
    """The dataset's name on the portal (found in the portal's catalog when ``dataset_id``
    is None)."""
    dataset_id: str | None
    date_column: str | None = None
    """The column (as the export names it) that ``--since`` filters on; None: the dataset
    is only fetched whole."""


@dataclass(frozen=True)
class PinnedFile:
    """A file at a fixed commit of a public repository: its bytes never change, so its sha256
    is checked against the one recorded in SOURCE.md."""

    file: str
    path: str
    """Under the GitHub raw-file address: ``owner/repo/commit/path``."""
    sha256: str


@dataclass(frozen=True)
class CkanResource:
    """A file of a CKAN open-data portal dataset (data.ontario.ca), found by its file name
    among the dataset's resources (``package_show``)."""

    file: str
    package_id: str


@dataclass(frozen=True)
class ContactFile:
    """A gzip-compressed SocioPatterns contact list (``t i j Ci Cj`` per line) under the
    SocioPatterns address."""

    file: str
    path: str


Remote = SocrataDataset | PinnedFile | CkanResource | ContactFile


@dataclass(frozen=True)
class FetchSource:
    source: str
    """The importer's source id (the store's ``source``)."""
    publisher: str
    files: tuple[Remote, ...]
    licence: str
    importable: bool = True
    """False: fetched into the cache only (its licence keeps it out of the store)."""


SOURCES: dict[str, FetchSource] = {
    s.source: s
    for s in (
        FetchSource(
            "cdph-daily-testing",
            "City of Chicago data portal",
            (
                SocrataDataset(
                    "chicago-daily-testing/COVID-19_Daily_Testing_-_By_Test.csv",
                    "COVID-19 Daily Testing - By Test",
                    "gkdw-2tgv",
                    "Date",
                ),
            ),
            CHICAGO_TERMS,
        ),
        FetchSource(
            "cdph-daily-cases",
            "City of Chicago data portal",
            (
                SocrataDataset(
                    "chicago-daily-cases/COVID-19_Daily_Cases__Deaths__and_Hospitalizations.csv",
                    "COVID-19 Daily Cases, Deaths, and Hospitalizations",
                    "naz8-j4nc",
                    "Date",
                ),
            ),
            CHICAGO_TERMS,
        ),
        FetchSource(
            "cdph-zip-weekly",
            "City of Chicago data portal",
            (
                SocrataDataset(
                    "chicago-zip-weekly/COVID-19_Cases__Tests__and_Deaths_by_ZIP_Code.csv",
                    "COVID-19 Cases, Tests, and Deaths by ZIP Code",
                    "yhhz-zm2v",
                    "Week Start",
                ),
            ),
            CHICAGO_TERMS,
        ),
        FetchSource(
            "cdph-vaccination-zip",
            "City of Chicago data portal",
            (
                SocrataDataset(
                    "chicago-vaccination-zip/COVID-19_Vaccinations_by_ZIP_Code.csv",
                    "COVID-19 Vaccinations by ZIP Code",
                    "553k-3xzc",
                    "Date",
                ),
            ),
            CHICAGO_TERMS,
        ),
        FetchSource(
            "cdph-population",
            "City of Chicago data portal",
            (
                SocrataDataset(
                    "chicago-population/Chicago_Population_Counts.csv",
                    "Chicago Population Counts",
                    "85cm-7uqa",
                ),
            ),
            CHICAGO_TERMS,
        ),
        FetchSource(
            "cps-school-profiles",
            "City of Chicago data portal (Chicago Public Schools)",
            tuple(
                SocrataDataset(
                    f"cps-schools/Chicago_Public_Schools_-_School_Profile_Information_{year}.csv",
                    f"Chicago Public Schools - School Profile Information {year}",
                    None,
                )
                for year in ("SY2122", "SY2223")
            ),
            CHICAGO_TERMS,
        ),
        FetchSource(
            "cps-school-covid-cases",
            "cpscovid.com archive on GitHub (misterjacko/CPS-COVID-FE)",
            (
                PinnedFile(
                    "cps-school-covid-cases/allCpsCovidData.csv",
                    "misterjacko/CPS-COVID-FE/ee610d9968bea1de478b25b6488b9455445f00ae/"
                    "src/data/allCpsCovidData.csv",
                    "f0f37709f44f0d9d6e591b34c261c0cdb41eb529257610f36829b6266cd0a0f5",
                ),
            ),
            "no licence in the repository; the counts were published by Chicago Public Schools",
        ),
        FetchSource(
            "ontario-school-cases",
            "Government of Ontario open data (data.ontario.ca)",
            tuple(
                CkanResource(f"ontario-school-cases/{name}", "b1fef838-8784-4338-8ef9-ae7cfd405b41")
                for name in ("schoolcovidsummary.csv", "schoolcovidsummary2021_2022.csv")
            ),
            "Open Government Licence - Ontario",
        ),
        FetchSource(
            "sociopatterns",
            "SocioPatterns (sociopatterns.org)",
            tuple(
                ContactFile(f"sociopatterns-school-contacts/{name}", f"assets/data/{name}")
                for name in (
                    "primaryschool.csv.gz",
                    "highschool_2012.csv.gz",
                    "HighSchool2013_proximity_net.csv.gz",
                )
            ),
            "CC BY-NC-SA 3.0 (non-commercial, share alike, cite SocioPatterns): fetched into "
            "the cache only, never imported or shipped",
            importable=False,
        ),
    )
}
"""Every fetchable source. Not here: ``idph-illinois-statewide`` (the shipped file is a
transcription of a repository's file, not a publisher's file)."""
