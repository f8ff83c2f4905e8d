"""The file formats a ledger is imported from: ``POST /portfolio/{portfolioId}/import?preset=``.

Each preset turns a file into Flint's transactions (`base.Parsed`), every refused row named by
its line (or element) with the reason, all rows or none; ``auto`` picks the first preset that
recognises the file. Add a format by writing its module here and registering its `Preset` in
`PRESETS` (and its name in `PresetName`, which the OpenAPI document lists).
"""

from __future__ import annotations

from typing import Literal

from flint.portfolio.imports import flint_csv, ofx
from flint.portfolio.imports.base import ImportRefused, Parsed, Preset

__all__ = ["PRESETS", "ImportRefused", "Parsed", "Preset", "PresetName", "parse"]

PresetName = Literal["flint", "ofx", "auto"]

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "flint",
            "Flint's CSV (the export's columns)",
            flint_csv.parse_file,
            flint_csv.recognises,
        ),
        Preset(
            "ofx",
            "OFX or QFX statements, 1.x (SGML) and 2.x (XML): investment, bank and credit card",
            ofx.parse_file,
            ofx.recognises,
        ),
    )
}


def parse(data: bytes, preset: str) -> Parsed:
    """The file's transactions as ``preset`` reads them (``auto``: the first that recognises
    it); `ImportRefused` names every problem."""
    if preset == "auto":
        found = next((p for p in PRESETS.values() if p.recognises(data)), None)
        if found is None:
            known = ", ".join(PRESETS)
            raise ImportRefused(
                [("body", f"no preset recognises this file; name one with ?preset= ({known})")]
            )
    else:
        found = PRESETS[preset]
    parsed = found.parse(data)
    parsed.preset = found.name
    return parsed
