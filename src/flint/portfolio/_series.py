"""How `metrics` reads its inputs: values, flows and amounts as float64, dates as day numbers
(converted only where a metric needs them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike
DatesLike = Sequence[dt.date] | npt.NDArray[Any]
BoolArray = npt.NDArray[np.bool_]

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _as_float(a: ArrayLike) -> FloatArray:
    arr = np.asarray(a)
    if arr.dtype == object:
        arr = np.asarray(arr.tolist(), dtype=np.float64)  # Decimal -> float
    return np.asarray(arr, dtype=np.float64)


def _day_numbers(items: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Days since 1970-01-01 of ``items``; plain dates go through their ordinals, many times
    faster than NumPy's conversion of date objects."""
    if all(type(x) is dt.date for x in items):
        ordinals = np.fromiter((x.toordinal() for x in items), dtype=np.int64, count=len(items))
        return ordinals - _EPOCH_ORDINAL
    return np.asarray(items, dtype="datetime64[D]").astype(np.int64)


def _as_days(dates: DatesLike) -> npt.NDArray[np.datetime64]:
    if isinstance(dates, np.ndarray) and dates.dtype.kind == "M":
        return dates.astype("datetime64[D]")
    if isinstance(dates, list | tuple) or (isinstance(dates, np.ndarray) and dates.dtype == object):
        return _day_numbers(dates).astype("datetime64[D]")
    return np.asarray(dates, dtype="datetime64[D]")


def _to_date(d: np.datetime64) -> dt.date:
    value = d.astype("datetime64[D]").item()
    assert isinstance(value, dt.date)
    return value


class _Dates:
    """A series' dates, converted only where a metric reads them (the XIRR's flow days, the
    drawdown's two ends): converting every date of a long list costs more than the metrics."""

    __slots__ = ("_array", "_items", "size")

    def __init__(self, dates: DatesLike) -> None:
        self._items: Sequence[Any] | npt.NDArray[Any] | None = None
        self._array: npt.NDArray[np.datetime64] | None = None
        if isinstance(dates, list | tuple) or (
            isinstance(dates, np.ndarray) and dates.dtype == object and dates.ndim == 1
        ):
            self._items = dates
            self.size = len(dates)
        else:
            self._array = _as_days(dates)
            self.size = self._array.size if self._array.ndim == 1 else -1

    def day_numbers(self, at: npt.NDArray[np.intp]) -> list[int]:
        """The dates at ``at`` as counts of days from a fixed origin."""
        if self._array is not None:
            out: list[int] = self._array[at].astype(np.int64).tolist()
            return out
        assert self._items is not None
        picked = [self._items[i] for i in at.tolist()]
        if all(type(x) is dt.date for x in picked):
            return [x.toordinal() for x in picked]
        days = np.asarray(picked, dtype="datetime64[D]")
        if days.ndim != 1:
            raise ValueError("dates must be a 1-D sequence of dates")
        numbers: list[int] = days.astype(np.int64).tolist()
        return numbers

    def date(self, i: int) -> dt.date:
        if self._array is not None:
            return _to_date(self._array[i])
        assert self._items is not None
        item = self._items[i]
        if type(item) is dt.date:
            return item
        return _to_date(np.asarray([item], dtype="datetime64[D]")[0])
