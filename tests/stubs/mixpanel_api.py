"""A local Mixpanel: the ingestion endpoint ``POST /track`` as Mixpanel's HTTP API reference
describes it (the one the official Python library's ``Consumer`` posts to).

The form field ``data`` holds one event or a list of events (JSON objects with ``event`` and
``properties``, the properties including the project ``token`` and ``distinct_id``); with
``verbose=1`` the answer is ``{"status": 1, "error": null}`` when accepted and ``{"status": 0,
"error": "..."}`` (HTTP 400) when not (bad JSON, no event name, a token of another project).
Accepted events are kept in ``control.events``.

Scenarios: ``success``; ``500`` and ``503`` (a plain-text error page, nothing kept).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from tests.stubs.server import StubControl, stub_app

TOKEN = "stubmixpanelprojecttoken0123456"


@dataclass
class MixpanelControl(StubControl):
    events: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        super().reset()
        self.events.clear()


def _refused(error: str) -> JSONResponse:
    return JSONResponse({"status": 0, "error": error}, status_code=400)


def mixpanel_app() -> Starlette:
    control = MixpanelControl()

    async def track(request: Request) -> JSONResponse:
        scenario = control.record(request)
        if scenario in {"500", "503"}:
            return PlainTextResponse("upstream unavailable", status_code=int(scenario))
        form = await request.form()
        try:
            data = json.loads(str(form.get("data", "")))
        except ValueError:
            return _refused("data, missing or empty")
        batch = data if isinstance(data, list) else [data]
        for event in batch:
            properties = event.get("properties") if isinstance(event, dict) else None
            if not isinstance(properties, dict) or not event.get("event"):
                return _refused("event name and properties are required")
            if properties.get("token") != TOKEN:
                return _refused("token, invalid")
        with control._lock:
            control.events.extend(batch)
        return JSONResponse({"status": 1, "error": None})

    return stub_app([Route("/track", track, methods=["POST"])], control)
