"""What the soak reads in its processes' logs once they have stopped: error records (each is a
failure of the run) and how long each kind of worker task took."""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench._common import percentile

SHOWN = 5
_TASK = re.compile(r"Task (\S+)\[[^\]]+\] (succeeded in ([\d.]+)s|retry)")


def _records(data: Path) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
    """(log name, line, the line's JSON object or None) for every line of every log."""
    for log in sorted(data.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            yield log.name, line, entry if isinstance(entry, dict) else None


def logged_errors(data: Path) -> dict[str, Any]:
    """Error records (JSON ``level`` error or critical) and tracebacks printed bare."""
    records = 0
    examples: list[str] = []
    for name, line, entry in _records(data):
        level = entry.get("level") if entry else None
        if level in ("error", "critical") or line.startswith("Traceback"):
            records += 1
            if len(examples) < SHOWN:
                trace = str(entry.pop("exception", "")) if entry else ""
                head = json.dumps(entry) if entry else line
                examples.append(f"{name}: {head[:400]} {trace[-1500:]}".rstrip())
    return {"records": records, "examples": examples}


def worker_tasks(data: Path) -> dict[str, Any]:
    """Per task name: how many succeeded, their p50 and longest time, the time in all (Celery's
    "succeeded in" lines), and how many were retried."""
    times: dict[str, list[float]] = defaultdict(list)
    retries: dict[str, int] = defaultdict(int)
    for _, _, entry in _records(data):
        found = _TASK.match(str(entry.get("event", ""))) if entry else None
        if found is None:
            continue
        if found.group(3) is None:
            retries[found.group(1)] += 1
        else:
            times[found.group(1)].append(float(found.group(3)))
    return {
        task: {
            "succeeded": len(times[task]),
            "p50_s": round(percentile(times[task], 0.5), 3) if times[task] else None,
            "max_s": round(max(times[task]), 3) if times[task] else None,
            "total_s": round(sum(times[task]), 2),
            "retried": retries[task],
        }
        for task in sorted(times.keys() | retries.keys())
    }


def keep(data: Path, directory: str) -> None:
    """Copy the logs to ``directory`` (the scratch directory goes at the end of the run)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for log in data.glob("*.log"):
        shutil.copy(log, target / log.name)
