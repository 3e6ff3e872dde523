"""Exact arithmetic on unit x day grids.

A value is a rational ``num / den`` with int64 numerator and denominator arrays (or
scalars) and a ``known`` mask. Metric values given as floats are read as fixed-point
numbers with six decimals (``SCALE``); counts stay integers. Comparisons cross-multiply
in integers, so 12/40 >= 30% and 11.615 >= 1.15 x 10.10 are decided exactly, as the
agreements' boundary cases require.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

SCALE = 1_000_000
_LIMIT = 2**62

Bool = npt.NDArray[np.bool_]
Int = npt.NDArray[np.signedinteger[Any]]  # int32 storage, int64 arithmetic
Op = Literal[">=", ">", "<=", "<", "==", "!="]


class ArithmeticRangeError(ArithmeticError):
    """A comparison would overflow 64-bit integers; the inputs are out of the supported range."""


@dataclass(frozen=True)
class Rational:
    num: Int | int
    den: Int | int
    known: Bool | bool = True

    @staticmethod
    def of_decimal(value: Decimal) -> Rational:
        sign, digits, exponent = value.as_tuple()
        if not isinstance(exponent, int):
            raise ValueError(f"not a finite number: {value}")
        n = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        if exponent >= 0:
            return Rational(n * 10**exponent, 1)
        return Rational(n, 10**-exponent)

    def scalar_den(self) -> int | None:
        return self.den if isinstance(self.den, int) else None

    def to_float(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.num, dtype=np.float64) / np.asarray(self.den, dtype=np.float64)


def _check(*arrays: Int | int) -> None:
    for a in arrays:
        peak = abs(int(a)) if isinstance(a, int) else (int(np.abs(a).max()) if np.size(a) else 0)
        if peak >= _LIMIT:
            raise ArithmeticRangeError(
                f"a value of magnitude {peak} is outside the exact range; metric values must "
                f"stay below {_LIMIT // SCALE // SCALE:,} in absolute value"
            )


def _bound(a: Int | int) -> int:
    """Largest absolute value, without allocating a copy of the array."""
    if isinstance(a, int):
        return abs(a)
    if not np.size(a):
        return 0
    return max(abs(int(a.max())), abs(int(a.min())))


def _mul(a: Int | int, b: Int | int) -> Int | int:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if isinstance(b, int) and b == 1:
        return a
    if isinstance(a, int) and a == 1:
        return b
    bound_a, bound_b = _bound(a), _bound(b)
    if bound_a and bound_b and bound_a > _LIMIT // bound_b:
        raise ArithmeticRangeError(
            f"exact comparison would overflow ({bound_a} x {bound_b}); inputs are out of range"
        )
    return np.multiply(a, b, dtype=np.int64)


def common(a: Rational, b: Rational) -> tuple[Int | int, Int | int, Int | int]:
    """Numerators of a and b over one common denominator, and that denominator."""
    da, db = a.scalar_den(), b.scalar_den()
    if da is not None and db is not None:
        lcm = da * db // math.gcd(da, db)
        return _mul(a.num, lcm // da), _mul(b.num, lcm // db), lcm
    return _mul(a.num, b.den), _mul(b.num, a.den), _mul(a.den, b.den)


def known_of(a: Rational, b: Rational) -> Bool | bool:
    if isinstance(a.known, bool) and isinstance(b.known, bool):
        return a.known and b.known
    return np.logical_and(a.known, b.known)


def compare(a: Rational, op: str, b: Rational) -> tuple[Bool, Bool | bool]:
    """``a op b`` exactly; the result is False wherever either side is unknown."""
    x, y, _ = common(a, b)
    xa, ya = np.asarray(x), np.asarray(y)
    result: Bool
    if op == ">=":
        result = xa >= ya
    elif op == ">":
        result = xa > ya
    elif op == "<=":
        result = xa <= ya
    elif op == "<":
        result = xa < ya
    elif op == "==":
        result = xa == ya
    elif op == "!=":
        result = xa != ya
    else:
        raise ValueError(f"unknown comparator {op!r}")
    known = known_of(a, b)
    return np.logical_and(result, known), known


def scale(a: Rational, factor: Rational) -> Rational:
    """a x factor."""
    return Rational(_mul(a.num, factor.num), _mul(a.den, factor.den), a.known)


def subtract(a: Rational, b: Rational, floor_zero: bool) -> Rational:
    x, y, den = common(a, b)
    num = np.subtract(x, y, dtype=np.int64)
    if floor_zero:
        num = np.maximum(num, 0)
    return Rational(num, den, known_of(a, b))


def divide(a: Rational, b: Rational, percent: bool) -> Rational:
    """a / b (x 100 when ``percent``); unknown where b is zero."""
    num = np.asarray(_mul(_mul(a.num, b.den), 100 if percent else 1))
    den = np.asarray(_mul(a.den, b.num))
    zero = den == 0
    known = np.logical_and(known_of(a, b), ~zero)
    if zero.any():
        den = np.where(zero, 1, den)
    if (den < 0).any():
        sign = np.where(den < 0, -1, 1)
        num, den = np.multiply(num, sign, dtype=np.int64), np.multiply(den, sign, dtype=np.int64)
    return Rational(num, den, known)


def round_half_up(a: Rational, decimals: int) -> Rational:
    """Round to ``decimals`` places, halves away from zero (CDC's 2-decimal boundaries)."""
    q = 10**decimals
    num = np.asarray(_mul(a.num, 2 * q), dtype=np.int64)
    den = np.asarray(a.den, dtype=np.int64)
    twice = 2 * den
    rounded = np.where(num >= 0, (num + den) // twice, -((-num + den) // twice))
    return Rational(rounded.astype(np.int64), q, a.known)
