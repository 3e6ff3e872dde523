"""The observations a run keeps (``keep_records``) and their standard records: cases,
quarantine and isolation orders, teacher absences and their substitute coverage."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from schoolmode.sim.network import Population


class Records:
    """Observations kept during a run, written as standard records at its end."""

    def __init__(self, population: Population, start: dt.date, pathogen: str) -> None:
        self.pop = population
        self.start = start
        self.pathogen = pathogen
        self.orders: list[tuple[str, np.ndarray, int, np.ndarray]] = []
        self.cases: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.absences: list[tuple[int, np.ndarray, np.ndarray]] = []

    def order(self, kind: str, who: np.ndarray, day: int, last: np.ndarray) -> None:
        """An order of ``kind`` (isolation / quarantine) from ``day`` to ``last`` (per agent)."""
        if who.size:
            self.orders.append((kind, who.copy(), day, np.asarray(last).copy()))

    def case(self, day: int, who: np.ndarray, linked: np.ndarray) -> None:
        self.cases.append((day, who, linked))

    def absence(self, day: int, who: np.ndarray, covered: np.ndarray) -> None:
        self.absences.append((day, who, covered))

    def _dates(self, days: np.ndarray) -> pl.Series:
        epoch = (self.start - dt.date(1970, 1, 1)).days
        return pl.Series(np.asarray(days, dtype=np.int32) + epoch).cast(pl.Date)

    def _orders(self, ids: np.ndarray) -> pl.DataFrame:
        dates = self._dates
        parts = [
            pl.DataFrame(
                {
                    "person_id": ids[who].tolist(),
                    "kind": [kind] * len(who),
                    "start_date": dates(np.full(len(who), day)),
                    "end_date": dates(last),
                }
            )
            for kind, who, day, last in self.orders
        ]
        orders = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()
        if orders.height:
            orders = orders.with_row_index("n").select(
                pl.format("O{}", "n").alias("order_id"), pl.exclude("n")
            )
        return orders

    def frames(
        self, reported: np.ndarray, school: np.ndarray, room: np.ndarray
    ) -> dict[str, pl.DataFrame]:
        """The run's observations as standard records (person ids of the population);
        ``reported``: each agent's report day (-1: never), ``school`` / ``room``: its units."""
        ids = np.asarray(self.pop.person_ids, dtype=object)
        schools = np.asarray(self.pop.school_ids, dtype=object)
        rooms = np.asarray(self.pop.classroom_ids, dtype=object)
        dates = self._dates
        cases = [
            pl.DataFrame(
                {
                    "case_id": [f"C{i}" for i in who],
                    "person_id": ids[who].tolist(),
                    "pathogen": [self.pathogen] * len(who),
                    "report_date": dates(np.full(len(who), day)),
                    "status": ["confirmed"] * len(who),
                    "household_linked": linked,
                }
            )
            for day, who, linked in self.cases
        ]
        absences, cover = [], []
        for day, who, covered in self.absences:
            reason = np.where(
                (reported[who] >= 0) & (reported[who] <= day),
                "documented_positive",
                "directed_quarantine_isolation",
            )
            absences.append(
                pl.DataFrame(
                    {
                        "person_id": ids[who].tolist(),
                        "school_id": schools[school[who]].tolist(),
                        "date": dates(np.full(len(who), day)),
                        "reason": reason,
                    }
                )
            )
            cover.append(
                pl.DataFrame(
                    {
                        "classroom_id": rooms[room[who]].tolist(),
                        "date": dates(np.full(len(who), day)),
                        "absent_person_id": ids[who].tolist(),
                        "covered": covered,
                    }
                )
            )
        out = {"quarantine_order": self._orders(ids)}
        for name, frames in (
            ("case", cases),
            ("absence", absences),
            ("substitute_coverage", cover),
        ):
            out[name] = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
        return out
