"""Pathogen configuration: natural history loaded from cited YAML files in ``pathogens/``.

Every number carries a ``source``: a key of the file's ``sources`` table, or a text starting
with ``assumption`` that says why the value was chosen; and a ``confidence`` (as for policy
parameters): ``V`` the number was checked in the cited work's own text (abstract or full
text), ``S`` it comes from a secondary source (another paper or code quoting the work, a
news summary) or is derived from verified numbers, ``U`` unverified or an assumption.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from ruamel.yaml import YAML

PATHOGEN_DIR = Path(__file__).parent / "pathogens"
MAX_DAYS = 60
"""Longest duration a discretised distribution can take, in days."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Confidence = Literal["V", "S", "U"]


class Cited(_Strict):
    value: float = Field(ge=0)
    source: str = Field(min_length=1)
    confidence: Confidence | None = None
    """V verified in the cited text, S secondary or derived, U unverified or assumption."""


class Duration(_Strict):
    """A duration in days, discretised to whole days (at least ``minimum``)."""

    distribution: Literal["gamma", "lognormal", "fixed"]
    mean: float = Field(ge=0)
    sd: float = Field(default=0.0, ge=0)
    """Standard deviation of the distribution itself (for a lognormal: of the duration, not of
    its logarithm)."""
    minimum: int = Field(default=1, ge=0)
    rounding: Literal["nearest", "up"] = "nearest"
    """How a continuous duration becomes whole days: to the nearest day, or up to the next
    (a duration that ends within day k counts k days, as in a model with daily steps that
    checks ``t_end <= day``)."""
    source: str = Field(min_length=1)
    confidence: Confidence | None = None

    def pmf(self) -> np.ndarray:
        """Probability of each whole number of days 0..MAX_DAYS."""
        out = np.zeros(MAX_DAYS + 1)
        if self.distribution == "fixed" or self.sd == 0:
            out[max(self.minimum, round(self.mean))] = 1.0
            return out
        if self.rounding == "nearest":
            edges = np.arange(MAX_DAYS + 2) - 0.5
            edges[0] = 0.0
        else:
            edges = np.arange(MAX_DAYS + 2) - 1.0
            edges[0] = 0.0
        if self.distribution == "gamma":
            shape = (self.mean / self.sd) ** 2
            scale = self.sd**2 / self.mean
            cdf = np.array([_gamma_cdf(x, shape, scale) for x in edges])
        else:
            sigma = math.sqrt(math.log(1 + (self.sd / self.mean) ** 2))
            mu = math.log(self.mean) - sigma**2 / 2
            cdf = np.array([_lognormal_cdf(x, mu, sigma) for x in edges])
        mass = np.diff(cdf)
        mass[-1] += 1.0 - cdf[-1]
        # days below the minimum are moved to the minimum
        out[self.minimum] += mass[: self.minimum + 1].sum()
        out[self.minimum + 1 :] = mass[self.minimum + 1 :]
        return np.asarray(out / out.sum())


def _lognormal_cdf(x: float, mu: float, sigma: float) -> float:
    if x <= 0:
        return 0.0
    return 0.5 * (1.0 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2.0))))


def _gamma_cdf(x: float, shape: float, scale: float) -> float:
    """Regularised lower incomplete gamma P(shape, x/scale) by series / continued fraction."""
    z = x / scale
    if z <= 0:
        return 0.0
    if z < shape + 1:
        term = total = 1.0 / shape
        a = shape
        for _ in range(1000):
            a += 1
            term *= z / a
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return total * math.exp(-z + shape * math.log(z) - math.lgamma(shape))
    # Lentz continued fraction for Q
    b = z + 1 - shape
    c = 1e300
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - shape)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return 1.0 - math.exp(-z + shape * math.log(z) - math.lgamma(shape)) * h


class AgeBand(_Strict):
    """Values for ages ``min_age`` up to and including ``max_age`` (open-ended if null)."""

    min_age: int = Field(ge=0)
    max_age: int | None = None
    susceptibility: Cited
    """Relative probability of infection per contact (1 = reference)."""
    symptomatic_share: Cited
    """Share of infections that become symptomatic."""
    infectiousness: Cited | None = None
    """Relative infectiousness of infections of agents in the band (1 = reference; absent:
    1): multiplies the infector's hazard at every stage, on top of the stage's factors."""


class Pathogen(_Strict):
    name: str
    label: str
    r0: Cited
    """Basic reproduction number in the source population (informational: the simulator's
    per-contact transmission probability is calibrated, not read from here)."""
    latent: Duration
    """Infection to start of infectiousness."""
    presymptomatic: Duration
    """Start of infectiousness to symptom onset (symptomatic infections)."""
    symptomatic_infectious: Duration
    """Symptom onset to end of infectiousness."""
    asymptomatic_infectious: Duration
    """Start to end of infectiousness of an asymptomatic infection."""
    relative_infectiousness_asymptomatic: Cited
    relative_infectiousness_presymptomatic: Cited | None = None
    """Infectiousness of a symptomatic infection before its symptom onset relative to after
    it (absent: 1, as infectious before onset as after). The days from the start of
    infectiousness to the day before onset are presymptomatic; the onset day counts whole at
    the symptomatic infectiousness (docs/simulator.md "Infectiousness by stage and age")."""
    age_bands: list[AgeBand] = Field(min_length=1)
    sources: dict[str, str] = Field(min_length=1)
    notes: str = ""

    @model_validator(mode="after")
    def _every_number_cited(self) -> Pathogen:
        values: list[Cited | Duration] = [
            self.r0,
            self.latent,
            self.presymptomatic,
            self.symptomatic_infectious,
            self.asymptomatic_infectious,
            self.relative_infectiousness_asymptomatic,
        ]
        if self.relative_infectiousness_presymptomatic is not None:
            values.append(self.relative_infectiousness_presymptomatic)
        for band in self.age_bands:
            values += [band.susceptibility, band.symptomatic_share]
            if band.infectiousness is not None:
                values.append(band.infectiousness)
        for item in values:
            source = item.source
            key = source.split(";")[0].strip()
            assumption = source.lower().startswith("assumption")
            if key not in self.sources and not assumption:
                raise ValueError(
                    f"source {source!r} is neither a key of sources nor an 'assumption: ...'"
                )
            if assumption and item.confidence in ("V", "S"):
                raise ValueError(
                    f"an assumption cannot have confidence {item.confidence}: {source!r}"
                )
        starts = [b.min_age for b in self.age_bands]
        if starts[0] != 0 or starts != sorted(starts):
            raise ValueError("age_bands must start at age 0 and be in increasing order")
        for band, nxt in zip(self.age_bands, self.age_bands[1:], strict=False):
            if band.max_age is None or band.max_age + 1 != nxt.min_age:
                raise ValueError("age_bands must be contiguous")
        if self.age_bands[-1].max_age is not None:
            raise ValueError("the last age band must be open-ended (max_age: null)")
        return self

    def values(self) -> dict[str, Cited | Duration]:
        """Every cited value by name (``age_bands[i].susceptibility`` etc.)."""
        out: dict[str, Cited | Duration] = {
            "r0": self.r0,
            "latent": self.latent,
            "presymptomatic": self.presymptomatic,
            "symptomatic_infectious": self.symptomatic_infectious,
            "asymptomatic_infectious": self.asymptomatic_infectious,
            "relative_infectiousness_asymptomatic": self.relative_infectiousness_asymptomatic,
        }
        if self.relative_infectiousness_presymptomatic is not None:
            out["relative_infectiousness_presymptomatic"] = (
                self.relative_infectiousness_presymptomatic
            )
        for i, band in enumerate(self.age_bands):
            out[f"age_bands[{i}].susceptibility"] = band.susceptibility
            out[f"age_bands[{i}].symptomatic_share"] = band.symptomatic_share
            if band.infectiousness is not None:
                out[f"age_bands[{i}].infectiousness"] = band.infectiousness
        return out

    @property
    def presymptomatic_factor(self) -> float:
        """``relative_infectiousness_presymptomatic`` (1 when absent)."""
        cited = self.relative_infectiousness_presymptomatic
        return 1.0 if cited is None else cited.value

    def infectiousness_by_age(self, ages: np.ndarray) -> np.ndarray:
        """Each age's band ``infectiousness`` (1 where the band has none)."""
        starts = np.array([b.min_age for b in self.age_bands])
        band = np.searchsorted(starts, ages, side="right") - 1
        rel = np.array(
            [1.0 if b.infectiousness is None else b.infectiousness.value for b in self.age_bands]
        )
        return np.asarray(rel[band])

    def cache_dump(self) -> dict[str, object]:
        """``model_dump(mode="json")`` without the optional infectiousness fields that are
        absent: a cache key of a pathogen without them stays the one it had before they
        existed (``beta.auto_beta``)."""
        dump = self.model_dump(mode="json")
        if dump.get("relative_infectiousness_presymptomatic") is None:
            dump.pop("relative_infectiousness_presymptomatic", None)
        for band in dump["age_bands"]:
            if band.get("infectiousness") is None:
                band.pop("infectiousness", None)
        return dump

    def by_age(self, ages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(susceptibility, symptomatic share) for each age."""
        starts = np.array([b.min_age for b in self.age_bands])
        band = np.searchsorted(starts, ages, side="right") - 1
        sus = np.array([b.susceptibility.value for b in self.age_bands])
        sym = np.array([b.symptomatic_share.value for b in self.age_bands])
        return sus[band], sym[band]


def load_pathogen(name_or_path: str | Path) -> Pathogen:
    """Load ``pathogens/<name>.yaml`` (or a path to a YAML file)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PATHOGEN_DIR / f"{name_or_path}.yaml"
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return Pathogen.model_validate(data)


def pathogen_names() -> list[str]:
    return sorted(p.stem for p in PATHOGEN_DIR.glob("*.yaml"))
