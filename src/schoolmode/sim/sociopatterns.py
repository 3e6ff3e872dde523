"""SocioPatterns face-to-face contact files: reading them as pair-days and a roster.

SocioPatterns files (``t i j Ci Cj``: one line per 20-second window in which persons ``i`` and
``j`` of classes ``Ci`` and ``Cj`` were face to face) are read with the data importer
(``importers.other.SocioPatterns``), so a malformed file fails with the importer's error. The
real files are CC BY-NC-SA and never shipped; the tests use a made-up fixture in their layout.
The calibration maths on them is in ``calibrate.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schoolmode.importers.other import SocioPatterns

RESOLUTION_S = 20
"""Seconds represented by one contact line (the sensors' time window)."""
TEACHERS = "Teachers"
"""Class label of teachers in the SocioPatterns primary-school file."""
DAY_S = 86_400


@dataclass(frozen=True)
class SchoolContacts:
    name: str
    pairs: pl.DataFrame
    """One row per pair and day with contact: day, a, b (a < b), seconds."""
    roster: pl.DataFrame
    """person, class, grade, teacher (bool), own_class (teachers: the class they spend most
    time with, inferred; students: their class)."""


def grade_of(label: pl.Expr) -> pl.Expr:
    """Grade of a class label: primary ``3B`` -> ``3``; high school (French classes
    préparatoires) ``MP*1``, ``PC*``, ``2BIO3`` -> the track ``MP``, ``PC``, ``BIO`` (classes
    of one track are the same year and specialisation: the nearest thing to a grade)."""
    primary = label.str.extract(r"^(\d)[A-Za-z]$", 1)
    track = label.str.replace(r"^\d", "").str.replace_all(r"[\*\d]", "")
    return pl.when(label == TEACHERS).then(None).otherwise(pl.coalesce(primary, track))


def metadata_path(path: Path) -> Path:
    """``primaryschool.csv.gz`` -> ``primaryschool_metadata.txt`` (the files' naming)."""
    stem = path.name.split(".")[0].removesuffix("_proximity_net")
    return path.with_name(f"{stem}_metadata.txt")


def read_school(path: Path, metadata: Path | None = None) -> SchoolContacts:
    """Contacts of one SocioPatterns file, as pair-days, and its roster (from the metadata
    file ``i<TAB>class<TAB>sex`` next to it if there is one, else from the contacts)."""
    frame = SocioPatterns().parse(path).frame
    lines = frame.select(
        (pl.col("t") // DAY_S).alias("day"),
        pl.col("person_i").cast(pl.Int64).alias("i"),
        pl.col("person_j").cast(pl.Int64).alias("j"),
        pl.col("class_i"),
        pl.col("class_j"),
    )
    pairs = (
        lines.select(
            "day",
            pl.min_horizontal("i", "j").alias("a"),
            pl.max_horizontal("i", "j").alias("b"),
        )
        .filter(pl.col("a") != pl.col("b"))
        .group_by("day", "a", "b")
        .agg((pl.len() * RESOLUTION_S).alias("seconds"))
        .sort("day", "a", "b")
    )
    metadata = metadata if metadata is not None else metadata_path(path)
    if metadata.exists():
        roster = pl.read_csv(
            metadata,
            separator="\t",
            has_header=False,
            new_columns=["person", "class", "sex"],
            schema_overrides={"person": pl.Int64, "class": pl.String, "sex": pl.String},
        ).select("person", "class")
    else:
        roster = pl.concat(
            [
                lines.select(pl.col("i").alias("person"), pl.col("class_i").alias("class")),
                lines.select(pl.col("j").alias("person"), pl.col("class_j").alias("class")),
            ]
        ).unique("person", keep="first")
    roster = roster.unique("person").with_columns(
        grade_of(pl.col("class")).alias("grade"), (pl.col("class") == TEACHERS).alias("teacher")
    )
    # a teacher's own class: the class of the students they spend most time with
    both = both_directions(pairs)
    with_class = both.join(
        roster.select(pl.col("person").alias("other"), pl.col("class").alias("other_class")),
        on="other",
    ).filter(pl.col("other_class") != TEACHERS)
    own = (
        with_class.group_by("person", "other_class")
        .agg(pl.col("seconds").sum())
        .sort("seconds", "other_class", descending=[True, False])
        .unique("person", keep="first")
        .select("person", pl.col("other_class").alias("taught"))
    )
    roster = (
        roster.join(own, on="person", how="left")
        .with_columns(
            pl.when(pl.col("teacher"))
            .then(pl.col("taught"))
            .otherwise(pl.col("class"))
            .alias("own_class")
        )
        .drop("taught")
        .sort("person")
    )
    return SchoolContacts(path.name.split(".")[0], pairs, roster)


def both_directions(pairs: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(
        [
            pairs.select("day", pl.col("a").alias("person"), pl.col("b").alias("other"), "seconds"),
            pairs.select("day", pl.col("b").alias("person"), pl.col("a").alias("other"), "seconds"),
        ]
    )


def shared_files(data_dir: Path) -> list[Path]:
    """The SocioPatterns files under the data folder (``AppSettings.data_dir``)."""
    return [data_dir / name for name in SocioPatterns.default_files]
