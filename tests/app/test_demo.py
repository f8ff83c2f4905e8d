"""`flint demo`, run as a newcomer runs it (a fresh data dir, the embedded broker, no server):
the user it prints can sign in and finds something in every corner, and a second run adds
nothing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from flint.app.main import create_app
from flint.config import Settings
from tests.app.test_cli import FLINT, clean_env

pytestmark = [pytest.mark.waits, pytest.mark.timeout(400)]
V1 = "/api/v1"
BANNER = re.compile(r"^Demo user ready: (\S+@\S+) / (\S+)$", re.MULTILINE)


def demo_command(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLINT, "demo"],
        cwd=tmp_path,
        env=clean_env(FLINT_DATA_DIR=str(tmp_path / "data"), FLINT_LOG_LEVEL="INFO"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, str]:
    """One first run of ``flint demo`` for this module (the two tests run in one worker, their
    group): its directory, the user's email and password, and what it printed. Each test goes
    on in a copy of it (`fresh_copy`): a first run is about 15 s of CPU."""
    where = tmp_path_factory.mktemp("demo-world")
    email, password, printed = run_demo(where)
    return where, email, password, printed


def fresh_copy(world: Path, tmp_path: Path) -> None:
    """The first run's data dir as a newcomer's own (reports are kept by key under it)."""
    shutil.copytree(world / "data", tmp_path / "data")


def run_demo(tmp_path: Path) -> tuple[str, str, str]:
    """``flint demo`` in a shell of its own; (email, password, everything it printed)."""
    done = demo_command(tmp_path)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    found = BANNER.search(done.stdout)
    assert found, printed
    return found.group(1), found.group(2), printed


@asynccontextmanager
async def signed_in(data: Path, email: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an API on the demo's data dir, signed in with the printed credentials."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        data_dir=data,
        broker_url="memory://",
        log_level="WARNING",
        performance_workers=0,
    )
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            login = await http.post(f"{V1}/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200, login.text
            http.headers["Authorization"] = f"Bearer {login.json()['token']}"
            yield http
    finally:
        await app.state.runtime.aclose()


async def get(http: httpx.AsyncClient, path: str) -> Any:
    response = await http.get(V1 + path)
    assert response.status_code == 200, f"{path}: {response.text}"
    return response.json()


async def everything(http: httpx.AsyncClient) -> dict[str, Any]:
    """What the demo user has, by id, as the API shows it."""
    me = await get(http, "/auth/me")
    user_id = me["userId"]
    portfolios = (await get(http, "/portfolio/"))["portfolios"]
    return {
        "accounts": {
            (a["accountId"], a["type"]) for a in (await get(http, "/accounts"))["accounts"]
        },
        "watchlist": {w["asset"] for w in (await get(http, f"/watchlist/{user_id}"))["watchlist"]},
        "alerts": {
            (a["alertId"], a["symbol"], a["condition"], a["state"])
            for a in (await get(http, "/alerts"))["alerts"]
        },
        "portfolios": {(p["portfolioId"], p["name"], p["accountId"]) for p in portfolios},
        "ledgers": {
            p["portfolioId"]: len(
                (await get(http, f"/portfolio/{p['portfolioId']}/transactions"))["transactions"]
            )
            for p in portfolios
        },
        "reports": {
            (r["reportId"], r["status"], r["format"], r["portfolioId"])
            for r in (await get(http, f"/reports/user/{user_id}"))["reports"]
        },
        "notifications": {
            (n["notificationId"], n["kind"])
            for n in (await get(http, "/notifications"))["notifications"]
        },
    }


async def test_the_demo_user_has_everything_and_a_second_run_duplicates_nothing(
    tmp_path: Path, demo_world: tuple[Path, str, str, str]
) -> None:
    world, email, password, printed = demo_world
    fresh_copy(world, tmp_path)
    assert "warning" not in printed.lower(), printed
    async with signed_in(tmp_path / "data", email, password) as http:
        first = await everything(http)

        assert {kind for _, kind in first["accounts"]} == {"brokerage", "checking", "savings"}
        assert len(first["accounts"]) == 3
        assert first["watchlist"] >= {"AAPL", "VTI", "BTC-USD"}
        assert len(first["alerts"]) == 3
        assert {state for *_, state in first["alerts"]} == {"armed", "fired"}
        brokerage = next(i for i, kind in first["accounts"] if kind == "brokerage")
        (following,) = [p for p in first["portfolios"] if p[2] == brokerage]
        (imported,) = [p for p in first["portfolios"] if p[2] is None]
        assert first["ledgers"][following[0]] > 0
        ledger = (await get(http, f"/portfolio/{imported[0]}/transactions"))["transactions"]
        days = sorted(date.fromisoformat(row["date"]) for row in ledger)
        assert days[-1] - days[0] > timedelta(days=3 * 365 - 40)
        assert {row["type"] for row in ledger} >= {"deposit", "buy", "sell", "dividend"}
        performance = await get(http, f"/portfolio/{imported[0]}/performance")
        assert Decimal(performance["marketValue"]) > 0

        ((report_id, status, fmt, of),) = first["reports"]
        assert (status, fmt, of) == ("completed", "pdf", imported[0])
        pdf = await http.get(f"{V1}/reports/{report_id}/download")
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF")
        assert {kind for _, kind in first["notifications"]} >= {"report", "price_alert"}
        sessions = (await get(http, "/auth/sessions"))["sessions"]
        assert [s["current"] for s in sessions] == [True]  # the demo signed itself out

    again_email, again_password, _ = run_demo(tmp_path)
    assert (again_email, again_password) == (email, password)
    async with signed_in(tmp_path / "data", email, password) as http:
        assert await everything(http) == first


async def test_a_demo_user_whose_password_is_not_the_kept_one_is_refused_and_left_alone(
    tmp_path: Path, demo_world: tuple[Path, str, str, str]
) -> None:
    world, email, password, _ = demo_world
    fresh_copy(world, tmp_path)
    kept = tmp_path / "data" / "demo.json"
    kept.write_text(json.dumps({"email": email, "password": "not-the-password-1"}))

    refused = demo_command(tmp_path)

    assert refused.returncode == 1
    assert "demo.json" in refused.stderr, refused.stderr
    assert "Demo user ready" not in refused.stdout
    async with signed_in(tmp_path / "data", email, password) as http:
        assert len((await get(http, "/portfolio/"))["portfolios"]) == 2
