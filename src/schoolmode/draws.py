"""Random draws: the one home of the project's named random streams.

Every random decision the project makes is drawn here (or, inside numba-compiled simulator
code, by :mod:`schoolmode.sim.rng`, this module's numba twin with the same constants):

- **Counter-based draws by id** (screening selection, invalid samples, synthetic consent):
  ``splitmix64(splitmix64(fnv1a(id) XOR key))`` with ``key`` the first 8 bytes of
  ``sha256("<policy>|<week>|<seed>|<stream>")``. A person's draw depends on their own id and
  the key only, so adding or removing a person never changes anyone else's draw.
- **Counter-based draws by coordinates** (the simulator): ``uniform_at(seed, stream, a, b, c)``
  mixes five 64-bit integers with the SplitMix64 finaliser (Steele, Lea and Flood 2014).
  :func:`schoolmode.sim.rng.uniform` computes the same number in numba; this numpy version is
  the reference its test compares against.
- **The accommodation lottery ticket**: ``sha256("<seed>:<request_id>")`` in hex, reproducible
  by anyone with a shell (lowest tickets win).
- **Named generators of the synthetic observations** (:data:`SYNTH_STREAMS`):
  ``numpy.random.default_rng([seed, crc32(name)])``, one independent generator per name.

The two counter-based families hash different inputs by design (string ids versus integer
coordinates); they share the SplitMix64 finaliser (:func:`splitmix`, :data:`GOLDEN`,
:data:`M1`, :data:`M2`) and the 53-bit conversion to a uniform in [0, 1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib

import numpy as np
import numpy.typing as npt
import polars as pl

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
"""SplitMix64's increment (the golden ratio in 64 bits)."""
M1 = np.uint64(0xBF58476D1CE4E5B9)
"""SplitMix64 finaliser: first multiplier."""
M2 = np.uint64(0x94D049BB133111EB)
"""SplitMix64 finaliser: second multiplier."""
SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
"""SplitMix64 finaliser: the three xor-shifts."""
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
"""FNV-1a (64 bit) offset basis."""
FNV_PRIME = np.uint64(0x100000001B3)
"""FNV-1a (64 bit) prime."""
UNIT_SHIFT = np.uint64(11)
"""A 64-bit draw keeps its top 53 bits for a uniform in [0, 1)."""
INV_2_53 = 1.0 / 9007199254740992.0
"""``2**-53``: scales 53 bits to [0, 1)."""

SYNTH_STREAMS = (
    "zip-draw",
    "day-of-week",
    "staff-or-student",
    "person",
    "substitute-order",
    "substitute-fill",
    "surge-allocation",
)
"""The named generators of the synthetic observations and surges (:func:`stream`)."""


# ----------------------------------------------------------------- SplitMix64 finaliser


def splitmix(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The SplitMix64 step (add :data:`GOLDEN`, then the finaliser) on each element."""
    s30, s27, s31 = SHIFTS
    with np.errstate(over="ignore"):
        z = z + GOLDEN
        z = (z ^ (z >> s30)) * M1
        z = (z ^ (z >> s27)) * M2
    return z ^ (z >> s31)


def to_unit(bits: npt.NDArray[np.uint64]) -> npt.NDArray[np.float64]:
    """Uniforms in [0, 1) from 64-bit draws (their top 53 bits)."""
    return (bits >> UNIT_SHIFT).astype(np.float64) * INV_2_53


# ----------------------------------------------------------------- draws by coordinates


def uniform_at(seed: int, stream: int, a: npt.ArrayLike, b: int, c: int) -> npt.NDArray[np.float64]:
    """``uniform(seed, stream, a[i], b, c)`` of :mod:`schoolmode.sim.rng`, in numpy: the five
    coordinates mixed in turn by :func:`splitmix` (the numba kernel's reference)."""
    a_bits = np.asarray(a, dtype=np.int64).astype(np.uint64)
    h = splitmix(np.full(a_bits.shape, np.int64(seed), dtype=np.int64).astype(np.uint64))
    for coordinate in (
        np.full(a_bits.shape, np.int64(stream), dtype=np.int64).astype(np.uint64),
        a_bits,
        np.full(a_bits.shape, np.int64(b), dtype=np.int64).astype(np.uint64),
        np.full(a_bits.shape, np.int64(c), dtype=np.int64).astype(np.uint64),
    ):
        h = splitmix(h ^ coordinate)
    return to_unit(h)


# ----------------------------------------------------------------- draws by id


def id_hash(ids: pl.Series) -> npt.NDArray[np.uint64]:
    """FNV-1a (64 bit) of each id's UTF-8 bytes, vectorised over rows (loops over byte
    positions only). It depends on the id alone, never on the other ids."""
    text = ids.cast(pl.String).fill_null("")
    n = text.len()
    lengths = text.str.len_bytes().cast(pl.Int64).to_numpy()
    data = np.frombuffer("".join(text.to_list()).encode("utf-8"), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if n else lengths
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    width = int(lengths.max()) if n else 0
    with np.errstate(over="ignore"):
        for j in range(width):
            live = np.nonzero(lengths > j)[0]
            byte = data[starts[live] + j].astype(np.uint64)
            h[live] = (h[live] ^ byte) * FNV_PRIME
    return h


def draw_key(policy_id: str, week: dt.date, seed: int, stream: str = "select") -> np.uint64:
    """The 64-bit key of one week's draws: SHA-256 of policy id, week, seed and stream."""
    digest = hashlib.sha256(f"{policy_id}|{week.isoformat()}|{seed}|{stream}".encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def draws(
    ids: pl.Series, policy_id: str, week: dt.date, seed: int, stream: str = "select"
) -> pl.Series:
    """One uniform 64-bit draw per id: ``splitmix64(fnv1a(id) XOR key(policy, week, seed))``.

    Counter-based: a person's draw depends only on their own id and the key, so adding or
    removing a person never changes anyone else's draw (selection by lowest draw is stable)."""
    key = draw_key(policy_id, week, seed, stream)
    return pl.Series("draw", splitmix(splitmix(id_hash(ids) ^ key)), dtype=pl.UInt64)


def uniforms(ids: pl.Series, policy_id: str, week: dt.date, seed: int, stream: str) -> pl.Series:
    """Counter-based uniforms in [0, 1) per id (see :func:`draws`)."""
    bits = draws(ids, policy_id, week, seed, stream).to_numpy() >> UNIT_SHIFT
    return pl.Series("u", bits.astype(np.float64) / 9007199254740992.0)


# ----------------------------------------------------------------- lottery and generators


def lottery_ticket(seed: int, request_id: str) -> str:
    """A request's lottery ticket: ``sha256("<seed>:<request_id>")``, hex (lowest wins)."""
    return hashlib.sha256(f"{seed}:{request_id}".encode()).hexdigest()


def stream(seed: int, name: str) -> np.random.Generator:
    """The named generator ``name`` (one of :data:`SYNTH_STREAMS`): independent of every other
    stream for the same seed."""
    if name not in SYNTH_STREAMS:
        raise ValueError(f"unknown random stream {name!r}; streams: {', '.join(SYNTH_STREAMS)}")
    return np.random.default_rng([seed, zlib.crc32(name.encode())])
