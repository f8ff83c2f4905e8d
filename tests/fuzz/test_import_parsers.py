"""The import presets over arbitrary bytes and over mutated sample files: `imports.parse`
returns what it read or refuses with `ImportRefused` (the route's 422, naming the line or
element), never anything else; every amount it reads back is finite. Also the Ghostfolio
reader over arbitrary JSON and over a mutated export."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flint.errors import ValidationFailed
from flint.market.universe import load_universe
from flint.portfolio import ghostfolio, imports
from flint.portfolio.imports import ImportRefused, Parsed
from tests.fuzz.support import fuzz, json_bytes, json_values, mutated_json, mutated_text
from tests.portfolio.test_import_export import GOOD

SAMPLES = Path(__file__).parent.parent / "portfolio" / "samples"
PRESET_NAMES = [*imports.PRESETS, "auto"]
SAMPLE_FILES = {
    "flint": None,
    "ofx": ["investment_v1.ofx", "bank_v2.ofx", "card.qfx"],
    "ibkr-flex": ["ibkr_flex.csv", "ibkr_flex.xml"],
    "trading212": ["trading212.csv"],
    "degiro": ["degiro_transactions.csv", "degiro_account.csv"],
    "schwab": ["schwab.csv"],
    "fidelity": ["fidelity.csv"],
}
FLINT_CSV = GOOD


def sample_texts(preset: str) -> list[str]:
    names = SAMPLE_FILES[preset]
    if names is None:
        return [FLINT_CSV]
    return [(SAMPLES / name).read_text("utf-8") for name in names]


def read(data: bytes, preset: str) -> Parsed | None:
    """`imports.parse`, with a refusal as None; any other exception fails the test."""
    refused: ImportRefused | None = None
    try:
        parsed = imports.parse(data, preset)
    except ImportRefused as exc:
        refused = exc
    if refused is not None:
        assert refused.problems, "a refusal names its problems"
        assert all(where and why for where, why in refused.problems)
        return None
    for entry in parsed.entries:
        for value in (entry.quantity, entry.price, entry.fee, entry.amount):
            assert value is None or value.is_finite(), (entry, value)
    assert len(parsed.entries) == len(parsed.labels) == len(parsed.ids)
    return parsed


def test_the_samples_read_as_they_are() -> None:
    """The mutations below start from files each preset reads whole."""
    for preset in SAMPLE_FILES:
        for text in sample_texts(preset):
            parsed = read(text.encode(), preset)
            assert parsed is not None, preset
            assert parsed.entries, preset


@pytest.mark.parametrize("preset", PRESET_NAMES)
@fuzz(60)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_are_read_or_refused(preset: str, data: bytes) -> None:
    read(data, preset)


@pytest.mark.parametrize("preset", PRESET_NAMES)
@fuzz(40)
@given(data=st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_text_is_read_or_refused(preset: str, data: bytes) -> None:
    read(data, preset)


@pytest.mark.parametrize("preset", list(SAMPLE_FILES))
@fuzz(80)
@given(data=st.data())
def test_a_mutated_sample_is_read_or_refused(preset: str, data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(sample_texts(preset)))
    mutated = data.draw(mutated_text(text))
    read(mutated, preset)
    read(mutated, "auto")


@pytest.mark.parametrize("preset", list(SAMPLE_FILES))
@fuzz(30)
@given(data=st.data())
def test_a_sample_cut_anywhere_is_read_or_refused(preset: str, data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(sample_texts(preset))).encode()
    read(raw[: data.draw(st.integers(0, len(raw)))], preset)


# --- Ghostfolio -------------------------------------------------------------------------------

UNIVERSE = load_universe()
GHOSTFOLIO = json.loads((SAMPLES / "ghostfolio_export.json").read_text("utf-8"))


def read_ghostfolio(data: bytes) -> None:
    """`ghostfolio.parse` and the reader, both modes: a plan or `ValidationFailed` (422)."""
    try:
        doc = ghostfolio.parse(data)
        modes: tuple[ghostfolio.Mode, ...] = ("one", "each")
        for mode in modes:
            plan = ghostfolio.Reader(doc, UNIVERSE, {}, date(2026, 12, 4)).read(
                mode, "Ghostfolio", None
            )
            for portfolio in plan.portfolios:
                for entry in portfolio.entries:
                    for value in (entry.quantity, entry.price, entry.fee, entry.amount):
                        assert value is None or value.is_finite()
    except ValidationFailed:
        return


def test_the_ghostfolio_sample_reads() -> None:
    doc = ghostfolio.parse((SAMPLES / "ghostfolio_export.json").read_bytes())
    plan = ghostfolio.Reader(doc, UNIVERSE, {}, date(2026, 12, 4)).read("one", "GF", None)
    assert plan.portfolios[0].entries


@fuzz(80)
@given(value=json_values)
def test_arbitrary_json_is_no_ghostfolio_file(value: Any) -> None:
    read_ghostfolio(json_bytes(value))


@fuzz(40)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_are_no_ghostfolio_file(data: bytes) -> None:
    read_ghostfolio(data)


@fuzz(150)
@given(value=mutated_json(GHOSTFOLIO))
def test_a_mutated_ghostfolio_export_is_read_or_refused(value: Any) -> None:
    read_ghostfolio(json_bytes(value))
