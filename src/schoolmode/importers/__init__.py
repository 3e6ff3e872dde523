"""One importer per real source; ``IMPORTERS`` maps source ids to them."""

from __future__ import annotations

from schoolmode.importers.base import Importer
from schoolmode.importers.cdph import (
    ChicagoPopulation,
    DailyCases,
    DailyTesting,
    VaccinationZip,
    ZipWeekly,
)
from schoolmode.importers.cps import SchoolCovidCases, SchoolProfiles
from schoolmode.importers.other import IllinoisStatewide, OntarioSchoolCases, SocioPatterns

IMPORTERS: dict[str, Importer] = {
    imp.source: imp
    for imp in (
        DailyTesting(),
        DailyCases(),
        SchoolProfiles(),
        SchoolCovidCases(),
        ZipWeekly(),
        ChicagoPopulation(),
        VaccinationZip(),
        IllinoisStatewide(),
        OntarioSchoolCases(),
        SocioPatterns(),
    )
}

CHICAGO = [imp for imp in IMPORTERS.values() if imp.chicago]

__all__ = ["CHICAGO", "IMPORTERS", "Importer"]
