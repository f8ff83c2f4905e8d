"""What the fuzz tests share: their hypothesis settings (bounded for CI, long with
``FLINT_FUZZ_EXAMPLES``), the strategies for arbitrary JSON, awkward numbers and mutated
sample files, and `examples` for the tests that run inside the app's event loop.

``FLINT_FUZZ_EXAMPLES=N`` (what ``make fuzz`` sets) runs every property ``N`` times with fresh
random seeds; without it each runs a fixed, derandomized handful so CI sees the same cases
every time.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

T = TypeVar("T")

LONG = int(os.environ.get("FLINT_FUZZ_EXAMPLES", "0") or 0)
"""How many examples each property runs when fuzzing long (``make fuzz``); 0 in CI."""

settings.register_profile(
    "flint-fuzz",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
_BASE = settings.get_profile("flint-fuzz")


def fuzz(examples: int) -> settings:
    """The settings of one property: ``examples`` derandomized cases in CI, `LONG` random ones
    under ``make fuzz``."""
    if LONG:
        return settings(_BASE, max_examples=LONG, derandomize=False)
    return settings(_BASE, max_examples=examples)


def examples(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """``count`` values of ``strategy`` drawn as a property would draw them (fixed in CI), for
    the HTTP tests, whose client lives in the test's event loop where `given` cannot run."""
    found: list[T] = []

    @settings(fuzz(count), phases=[Phase.explicit, Phase.generate])
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    collect()
    return found


NASTY_NUMBERS = [
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999999",
    "-1e999999",
    "1E+999999999",
    "1e-999999999",
    "9e9999999999999999",
    "9" * 30 + "E999970",  # rounded to the context's 28 digits: past its largest exponent
    "-0",
    "-0.0",
    "0",
    "0.000000000000000000000000000001",
    "9" * 60,
    "1" + "0" * 400,
    "1_000",
    "\uff11\uff12",  # full-width 12
    "\u0661\u0662",  # Arabic-Indic 12
    "0x1F",
    "1,2,3",
    "1.2.3",
    "(5)",
    "($1,234.56)",
    "-$0.00",
    "€ 12,5",
    "1 234,5",
    "--",
    "N/A",
    "",
    " ",
    "-",
    "+",
    ".",
    "e5",
    "1e",
    "12%",
]
"""Numbers (and near-numbers) every number reader must either read to a finite value or
refuse cleanly."""

nasty_numbers = st.sampled_from(NASTY_NUMBERS)
numberish = st.one_of(
    nasty_numbers,
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.integers().map(str),
    st.from_regex(r"[-+(]?[$€]?[0-9.,' eE+-]{0,30}\)?", fullmatch=True),
)
cell_text = st.one_of(
    numberish,
    st.text(max_size=40),
    st.sampled_from(["\x00", "\ufeff", '"', '""', "\r", "\n", ",", ";", "\t", "<", "&amp;"]),
    st.dates().map(str),
    st.sampled_from(["20240132", "2024-02-30", "99999999", "0000-00-00", "31/12/1899"]),
)
"""What a mutated cell (or element text, or attribute) may say."""

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    numberish,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=25,
)
"""Arbitrary JSON (NaN and infinities too, which Python's json writes and reads)."""


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*at, i))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        if delete and not rest:
            out.pop(head, None)
        else:
            out[head] = _replaced(value[head], rest, new, delete)
        return out
    out_list = list(value)
    if delete and not rest:
        del out_list[head]
    else:
        out_list[head] = _replaced(value[head], rest, new, delete)
    return out_list


@st.composite
def mutated_json(draw: st.DrawFn, sample: Any, mutations: int = 3) -> Any:
    """``sample`` with one to ``mutations`` of its values replaced by arbitrary JSON or
    awkward numbers, or deleted."""
    value = sample
    for _ in range(draw(st.integers(1, mutations))):
        paths = _paths(value)
        numeric = [p for p in paths if _numeric(_at(value, p))]
        if numeric and bool(draw(st.booleans())):  # half the time a number, with a number
            path = draw(st.sampled_from(numeric))
            new = draw(st.one_of(numberish, st.floats(), st.integers()))
            value = _replaced(value, path, new, False)
            continue
        path = draw(st.sampled_from(paths))
        delete = bool(path) and draw(st.booleans())
        new = draw(st.one_of(json_values, nasty_numbers, st.just(None)))
        value = _replaced(value, path, new, delete)
    return value


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and bool(re.fullmatch(r"-?[0-9.,]+%?", value.strip()))


_SPAN = re.compile(r'[^,;"<>\n\r=\t]+')


@st.composite
def mutated_text(draw: st.DrawFn, sample: str, mutations: int = 3) -> bytes:
    """``sample`` (a CSV, XML or OFX file) with some cells, elements' texts or attributes
    replaced by awkward text, lines dropped, doubled or cut short, columns added or removed,
    then written with a BOM, CRLF or another encoding."""
    text = sample
    for _ in range(draw(st.integers(1, mutations))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "line", "column", "cut", "insert"]))
        if op == "cell":
            spans = [m.span() for m in _SPAN.finditer(text)] or [(0, 0)]
            start, end = draw(st.sampled_from(spans))
            text = text[:start] + draw(cell_text) + text[end:]
        elif op == "line":
            lines = text.splitlines(keepends=True) or [""]
            i = draw(st.integers(0, len(lines) - 1))
            how = draw(st.sampled_from(["drop", "double", "blank"]))
            new = [] if how == "drop" else [lines[i]] * 2 if how == "double" else ["\n"]
            text = "".join(lines[:i] + new + lines[i + 1 :])
        elif op == "column":
            marks = [m.start() for m in re.finditer(r"[,;]", text)] or [0]
            at = draw(st.sampled_from(marks))
            text = (
                text[:at] + text[at + 1 :] if draw(st.booleans()) else text[:at] + "," + text[at:]
            )
        elif op == "cut":
            text = text[: draw(st.integers(0, len(text)))]
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=20)) + text[at:]
    if draw(st.booleans()):
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    return text.encode(encoding, errors="replace")
