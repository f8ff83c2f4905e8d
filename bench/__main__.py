"""``python -m bench [NAME ...]``: run the benchmarks (all, or those named), print a table,
and write ``bench/results/latest.json``.

The exit status is 0 when every benchmark ran, whether or not it met its target (misses are
marked in the table); 1 when one raised; 2 for an unknown name.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    bars_ingest,
    cold_quote_coalescing,
    http_hotpaths,
    import_large,
    metrics_speed,
    portfolio_performance,
    soak,
    ws_fanout,
)
from bench._common import Result, Skipped

Benchmark = Callable[[], list[Result]]

BENCHMARKS: list[Benchmark] = [
    http_hotpaths.run,
    cold_quote_coalescing.run,
    bars_ingest.run,
    ws_fanout.run,
    metrics_speed.run,
    portfolio_performance.run,
    import_large.run,
    soak.run,
]
"""Add a benchmark by importing its module above and appending its ``run``; its name is the
module's (``bench.ws_fanout.run`` runs as ``ws_fanout``)."""

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def name_of(benchmark: Benchmark) -> str:
    return benchmark.__module__.rpartition(".")[2]


def main(argv: list[str] | None = None) -> int:
    registry = {name_of(b): b for b in BENCHMARKS}
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(registry))
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(registry))
        return 0
    unknown = [name for name in args.names if name not in registry]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(registry)}")
        return 2
    chosen = args.names or list(registry)

    results: list[Result] = []
    outcomes: dict[str, dict[str, Any]] = {}
    for name in chosen:
        print(f"[{name}]", file=sys.stderr, flush=True)
        started = time.monotonic()
        outcome: dict[str, Any] = {"status": "ok"}
        try:
            produced = registry[name]()
        except Skipped as skip:
            outcome = {"status": "skipped", "reason": str(skip)}
            produced = []
        except Exception as exc:
            traceback.print_exc()
            outcome = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
            produced = []
        outcome["seconds"] = round(time.monotonic() - started, 1)
        outcomes[name] = outcome
        results.extend(produced)
        for result in produced:
            result.details.setdefault("benchmark", name)

    _write(results, outcomes)
    print(_table(results, outcomes))
    return 1 if any(o["status"] == "error" for o in outcomes.values()) else 0


def _write(results: list[Result], outcomes: dict[str, dict[str, Any]]) -> None:
    """Merge into latest.json: a benchmark that ran replaces its earlier entries, the others'
    stay (each entry's ratio was measured within its own benchmark run); entries of a
    benchmark that no longer exists go."""
    known = {name_of(benchmark) for benchmark in BENCHMARKS}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    previous: dict[str, Any] = {}
    if RESULTS.exists():
        try:
            previous = json.loads(RESULTS.read_text())
        except ValueError:
            previous = {}
    kept = [
        entry
        for entry in previous.get("results", [])
        if entry.get("details", {}).get("benchmark") not in outcomes
        and entry.get("details", {}).get("benchmark") in known
    ]
    runs = {k: v for k, v in previous.get("runs", {}).items() if k not in outcomes and k in known}
    runs.update({name: {**outcome, "at": now} for name, outcome in outcomes.items()})
    document = {
        "updated_at": now,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "wrk": shutil.which("wrk") is not None,
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "runs": runs,
        "results": kept + [r.as_json() for r in results],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    scratch = RESULTS.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    scratch.replace(RESULTS)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _table(results: list[Result], outcomes: dict[str, dict[str, Any]]) -> str:
    header = ("benchmark", "value", "baseline", "ratio", "target", "")
    rows: list[tuple[str, ...]] = []
    misses: list[str] = []
    for r in results:
        verdict = {True: "ok", False: "MISS <<<", None: "info"}[r.met]
        if r.met is False:
            misses.append(f"{r.name} (ratio {r.ratio:.3f} < {r.target:.2f})")
        rows.append(
            (
                r.name,
                f"{_number(r.value)} {r.unit}",
                f"{_number(r.baseline)} {r.unit}" if r.baseline is not None else "-",
                f"{r.ratio:.3f}" if r.ratio is not None else "-",
                f">= {r.target:.2f}" if r.target is not None else "-",
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    align = ["<", ">", ">", ">", ">", "<"]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths, strict=True))

    out = [""]
    if rows:
        out += [line(header), "  ".join("-" * w for w in widths)]
        out += [line(row) for row in rows]
    for name, outcome in outcomes.items():
        if outcome["status"] != "ok":
            out.append(f"{name}: {outcome['status'].upper()}: {outcome['reason']}")
    notes = [(r.name, note) for r in results for note in r.details.get("notes", [])]
    if notes:
        out.append("")
        out += [f"note ({name}): {note}" for name, note in notes]
    out.append("")
    if misses:
        out.append(f"TARGET MISSED ({len(misses)}): " + "; ".join(misses))
    else:
        out.append("every target met" if any(r.met for r in results) else "no targets checked")
    out.append(f"results: {RESULTS}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
