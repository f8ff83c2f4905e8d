"""Deterministic random price paths behind the simulated provider.

Every random number comes from a PCG64 stream seeded by a BLAKE2b hash of what it describes,
for example ``(path key, year, "steps")`` or ``(path key, date, "ticks")``. So any bar can be
computed directly, in any order, on any machine. Only PCG64's raw output is used (normals come
from a Box-Muller transform done here), because NumPy keeps bit-generator streams stable across
releases but may change its distribution samplers.

The model is a geometric Brownian motion in "session time", where each year has unit variance
split evenly over that year's sessions:

    log P(t) = log P0 + mu * t + sigma * W(t)

``mu`` is the growth rate of the median price, not of the mean, so that the typical path of a
volatile asset still rises over time.

``t`` is counted in years and both ``t`` and ``W`` are measured from the last session of
``ANCHOR_YEAR`` (2024-12-31 for every calendar here), where the close equals the instrument's
reference level ``P0``; the path runs forward and backward from there. ``W`` is a weighted sum
of independent unit Brownian motions: shared *factors* (the US market, a GICS sector, bonds,
crypto, ...) and the instrument's own one, with squared weights summing to 1. So two stocks of
one sector are more correlated than two of different sectors. A factor that lives on another
calendar (the crypto factor behind a bitcoin ETF) is read at the last of its sessions on or
before each of the instrument's sessions. Each unit motion is built per year: the year's total
increment is one N(0, 1) draw seeded by ``(key, year)``, and a Brownian bridge from seeded
per-session steps fills in the sessions. ``W`` at the start of a year is a sum of yearly totals,
so no calculation walks day by day from an epoch. A *pinned* path (used for ``^VIX``,
stablecoins and currency pairs) has no factors and does not accumulate. Each year-end value is
an independent draw around zero, the bridge joins one year-end value to the next, and there is
no drift. So the path reverts to its mean and never wanders off over decades.

Within a session, a tick path with one point every ``TICK_SECONDS`` is a Brownian bridge from
the open to the close. Its upward and downward excursions are rescaled so that it touches the
day's high and low exactly. Intraday bars and live quotes are read off that path.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from flint.kit.calendar import CRYPTO, XNYS, trading_days_in_year

FloatArray = NDArray[np.float64]
_Array = TypeVar("_Array", bound=NDArray[Any])

ANCHOR_YEAR = 2024
FIRST_YEAR = 1970
LAST_YEAR = 2100
TICK_SECONDS = 5

_PERSON = b"flint-sim-v2"
_GAP_SHARE = 0.2  # share of the day's move already in the opening price
_GAP_NOISE = 0.25  # extra opening noise, in daily standard deviations
_RANGE_SCALE = 0.5  # mean high/low extension beyond open/close, in daily standard deviations
_VOLUME_NOISE = 0.4
_TICK_VOLUME_NOISE = 0.5
PINNED_SPREAD = 0.5  # standard deviation of a pinned path's year-end value, in W units


def seed(*parts: object) -> int:
    """A 128-bit seed that depends only on ``parts`` (stable across runs and machines)."""
    text = "|".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=16, person=_PERSON).digest(), "big")


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) that depends only on ``parts``."""
    return (seed(*parts) >> 75) / float(1 << 53)


def uniforms(key: int, n: int) -> FloatArray:
    """``n`` uniforms in the open interval (0, 1) from the PCG64 stream seeded by ``key``."""
    raw = np.random.PCG64(key).random_raw(n)
    return ((raw >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def normals(key: int, n: int) -> FloatArray:
    """``n`` standard normals (Box-Muller over :func:`uniforms`)."""
    half = (n + 1) // 2
    u = uniforms(key, 2 * half)
    radius = np.sqrt(-2.0 * np.log(u[:half]))
    angle = (2.0 * math.pi) * u[half:]
    return np.concatenate((radius * np.cos(angle), radius * np.sin(angle)))[:n]


def _frozen(array: _Array) -> _Array:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True)
class Factor:
    """A shared unit Brownian motion (seeded by ``key``, on ``calendar``) and its weight."""

    key: str
    calendar: str
    weight: float


@dataclass(frozen=True, slots=True)
class PathModel:
    """Parameters of one random path; ``key`` names the seeds, so pegged instruments share it.

    ``factors`` are the shared motions the path loads on; the instrument's own motion gets the
    weight left over, ``sqrt(1 - sum of squared factor weights)``.
    """

    key: str
    calendar: str
    sigma: float
    mu: float
    pinned: bool = False
    factors: tuple[Factor, ...] = ()
    spread: float = PINNED_SPREAD  # a pinned path's year-end spread, in W units

    @property
    def own_weight(self) -> float:
        """Weight of the instrument's own motion (0 when the factors explain it all)."""
        return math.sqrt(max(0.0, 1.0 - sum(f.weight * f.weight for f in self.factors)))

    @property
    def gaps(self) -> bool:
        """Markets that close overnight open away from the previous close; 24/7 ones do not."""
        return self.calendar != CRYPTO

    @property
    def drift(self) -> float:
        """Yearly growth of the median log price; zero for pinned paths."""
        return 0.0 if self.pinned else self.mu


@dataclass(frozen=True, slots=True)
class YearSeries:
    """One year of daily bars in log space, relative to the instrument's anchor level."""

    days: tuple[date, ...]
    ordinals: NDArray[np.int64]
    prev_close: FloatArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume_factor: FloatArray

    def index(self, day: date) -> int:
        """Position of ``day`` in this year; ValueError when it is not a session."""
        i = int(np.searchsorted(self.ordinals, day.toordinal()))
        if i >= len(self.days) or self.days[i] != day:
            raise ValueError(f"{day.isoformat()} is not a session")
        return i


@lru_cache(maxsize=65536)
def _year_total(key: str, year: int) -> float:
    return float(normals(seed(key, year, "total"), 1)[0])


@lru_cache(maxsize=65536)
def _w_at_year_start(key: str, year: int) -> float:
    """W just before the first session of ``year``: the sum of earlier yearly totals."""
    w = 0.0
    if year > ANCHOR_YEAR:
        for y in range(ANCHOR_YEAR, year):
            w += _year_total(key, y)
    else:
        for y in range(year, ANCHOR_YEAR):
            w -= _year_total(key, y)
    return w


@lru_cache(maxsize=4096)
def _w_path(
    key: str, calendar: str, year: int, pinned: bool, spread: float = PINNED_SPREAD
) -> tuple[float, FloatArray]:
    """W before the first session of ``year`` and W after each of its sessions."""
    n = len(trading_days_in_year(year, calendar))
    steps = np.cumsum(normals(seed(key, year, "steps"), n)) / math.sqrt(n)
    if pinned:
        w0 = spread * _year_total(key, year - 1)
        total = spread * _year_total(key, year) - w0
    else:
        w0 = _w_at_year_start(key, year)
        total = _year_total(key, year)
    elapsed = np.arange(1, n + 1, dtype=np.float64) / n
    return w0, _frozen(w0 + steps - elapsed * (steps[-1] - total))


def _ordinals(days: tuple[date, ...]) -> NDArray[np.int64]:
    return np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))


@lru_cache(maxsize=4096)
def _session_ordinals(year: int, calendar: str) -> NDArray[np.int64]:
    return _frozen(_ordinals(trading_days_in_year(year, calendar)))


def _factor_at(factor: Factor, ordinals: NDArray[np.int64], year: int) -> FloatArray:
    """The factor's W after its last session on or before each of ``ordinals`` (in ``year``)."""
    w0, w = _w_path(factor.key, factor.calendar, year, False)
    found = np.searchsorted(_session_ordinals(year, factor.calendar), ordinals, side="right") - 1
    return np.where(found >= 0, w[np.maximum(found, 0)], w0)


@lru_cache(maxsize=4096)
def _composite(model: PathModel, year: int) -> tuple[float, FloatArray]:
    """The model's W before the first session of ``year`` and after each of its sessions."""
    if model.pinned:
        return _w_path(model.key, model.calendar, year, True, model.spread)
    ordinals = _session_ordinals(year, model.calendar)
    start, path = 0.0, np.zeros(len(ordinals))
    own = model.own_weight
    parts = [Factor(model.key, model.calendar, own)] if own > 0.0 else []
    before: NDArray[np.int64] | None = None
    for factor in (*parts, *model.factors):
        if factor.calendar == model.calendar:
            w0, w = _w_path(factor.key, factor.calendar, year, False)
            start += factor.weight * w0
            path += factor.weight * w
            continue
        path += factor.weight * _factor_at(factor, ordinals, year)
        if before is None:  # the instrument's previous session, in the year before
            last = trading_days_in_year(year - 1, model.calendar)[-1].toordinal()
            before = np.array([last], dtype=np.int64)
        start += factor.weight * float(_factor_at(factor, before, year - 1)[0])
    return start, _frozen(path)


@lru_cache(maxsize=4096)
def _anchor(model: PathModel) -> float:
    """W at the last session of ``ANCHOR_YEAR``, where every path sits at its level.

    A pinned path reverts to ``level * exp(-sigma * anchor)`` rather than to its level.
    """
    return float(_composite(model, ANCHOR_YEAR)[1][-1])


@lru_cache(maxsize=4096)
def year_series(model: PathModel, year: int) -> YearSeries:
    """Daily log OHLC of ``year`` for ``model`` (cached; arrays are read-only)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"the simulation covers {FIRST_YEAR}-{LAST_YEAR}, not {year}")
    days = trading_days_in_year(year, model.calendar)
    n = len(days)
    w0, w = _composite(model, year)
    anchor_w = _anchor(model)
    t0 = float(year - ANCHOR_YEAR - 1)
    elapsed = np.arange(1, n + 1, dtype=np.float64) / n
    close = model.drift * (t0 + elapsed) + model.sigma * (w - anchor_w)
    prev = np.concatenate(([model.drift * t0 + model.sigma * (w0 - anchor_w)], close[:-1]))
    sd = model.sigma / math.sqrt(n)
    aux = normals(seed(model.key, year, "aux"), 2 * n)
    if model.gaps:
        open_ = prev + _GAP_SHARE * (close - prev) + _GAP_NOISE * sd * aux[:n]
    else:
        open_ = prev.copy()
    stretch = -np.log(uniforms(seed(model.key, year, "range"), 2 * n))
    high = np.maximum(open_, close) + _RANGE_SCALE * sd * stretch[:n]
    low = np.minimum(open_, close) - _RANGE_SCALE * sd * stretch[n:]
    moved = 1.0 + 0.8 * np.abs(close - prev) / sd
    volume = np.exp(_VOLUME_NOISE * aux[n:] - _VOLUME_NOISE**2 / 2) * moved / 1.64
    return YearSeries(
        days=days,
        ordinals=_session_ordinals(year, model.calendar),
        prev_close=_frozen(prev),
        open=_frozen(open_),
        high=_frozen(high),
        low=_frozen(low),
        close=_frozen(close),
        volume_factor=_frozen(volume),
    )


@dataclass(frozen=True, slots=True)
class TickShape:
    """Unit-free shape of one session: a bridge pinned at 0 at both ends and cumulative volume."""

    bridge: FloatArray  # steps + 1 points
    volume_share: FloatArray  # steps + 1 points, 0 at the open and exactly 1 at the close


@lru_cache(maxsize=512)
def tick_shape(key: str, calendar: str, day: date, steps: int) -> TickShape:
    """The seeded intraday shape of ``day``; exchange sessions get a U-shaped volume profile."""
    walk = np.concatenate(([0.0], np.cumsum(normals(seed(key, day, "ticks"), steps))))
    position = np.arange(steps + 1, dtype=np.float64) / steps
    bridge = walk - position * walk[-1]
    middle = (np.arange(1, steps + 1, dtype=np.float64) - 0.5) / steps
    profile = 1.0 + 3.0 * (2.0 * middle - 1.0) ** 2 if calendar == XNYS else np.ones(steps)
    noise = np.exp(_TICK_VOLUME_NOISE * normals(seed(key, day, "tick-volume"), steps))
    cumulative = np.cumsum(profile * noise)
    share = np.concatenate(([0.0], cumulative / cumulative[-1]))
    share[-1] = 1.0
    return TickShape(_frozen(bridge), _frozen(share))


def tick_path(shape: TickShape, open_: float, high: float, low: float, close: float) -> FloatArray:
    """Log prices at every tick: starts at ``open_``, ends at ``close``, max ``high``, min ``low``.

    The straight line from open to close plus the bridge, with its positive part scaled to just
    reach ``high`` and its negative part to just reach ``low``.
    """
    bridge = shape.bridge
    position = np.linspace(0.0, 1.0, len(bridge))
    line = open_ * (1.0 - position) + close * position
    up = bridge > 0
    down = bridge < 0
    scale_up = float(np.min((high - line[up]) / bridge[up])) if up.any() else 0.0
    scale_down = float(np.min((line[down] - low) / -bridge[down])) if down.any() else 0.0
    path = line + np.where(up, scale_up * bridge, 0.0) + np.where(down, scale_down * bridge, 0.0)
    # A bridge that never crosses the line on one side cannot be scaled to that extreme; dip
    # (or spike) smoothly towards it around the interior tick closest to the line instead.
    if not down.any():
        _touch(path, low, int(np.argmin(bridge[1:-1])) + 1)
    if not up.any():
        _touch(path, high, int(np.argmax(bridge[1:-1])) + 1)
    np.clip(path, low, high, out=path)
    path[0] = open_
    path[-1] = close
    return path


def _touch(path: FloatArray, target: float, centre: int) -> None:
    """Bend ``path`` in place with a triangular kernel so it reaches ``target`` at ``centre``."""
    last = len(path) - 1
    width = max(1, min(centre, last - centre, last // 20))
    distance = np.abs(np.arange(last + 1) - centre) / width
    path += np.maximum(0.0, 1.0 - distance) * (target - path[centre])
    path[centre] = target
