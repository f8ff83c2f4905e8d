"""Performance charts: real PNG and SVG images with labelled axes and readable dates."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import matplotlib.style
import numpy as np
import pytest
from matplotlib import image

from flint.portfolio.api import ChartKind, Performance, draw_chart
from tests.conftest import Account, assert_problem, error_fields
from tests.portfolio.test_performance_api import V1, make_portfolio
from tests.portfolio.test_valuation_days import new_portfolio


@pytest.mark.parametrize("kind", ["value", "drawdown", "allocation", "benchmark"])
async def test_each_kind_is_a_png_of_the_promised_size(
    client: httpx.AsyncClient, alice: Account, kind: str
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    response = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": kind, "end": end.isoformat()},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = image.imread(io.BytesIO(response.content), format="png")
    assert pixels.shape[:2] == (550, 1000)
    assert pixels.std() > 0.01  # something was drawn


async def test_an_svg_names_its_axes_and_shows_dates(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, start, end = await make_portfolio(client, alice)
    response = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": "value", "format": "svg", "end": end.isoformat()},
        headers=alice.headers,
    )
    assert response.headers["content-type"].startswith("image/svg+xml")
    ET.fromstring(response.content)  # noqa: S314 (our own output) well-formed
    text = response.text
    for label in ("Value (USD)", "Date", "Growth: value"):
        assert label in text
    months = {(start + timedelta(days=d)).strftime("%b") for d in range(0, 121, 15)}
    assert any(month in text for month in months)


async def test_unknown_kinds_and_formats_are_422_and_others_get_404(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    portfolio_id, _, _ = await make_portfolio(client, alice)
    url = f"{V1}/{portfolio_id}/performance/chart"
    bad = await client.get(url, params={"kind": "pie", "format": "gif"}, headers=alice.headers)
    assert {"query.kind", "query.format"} <= error_fields(assert_problem(bad, 422))
    assert_problem(await client.get(url, headers=bob.headers), 404)


async def test_a_name_with_dollar_signs_is_drawn_as_text_not_mathtext(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    lots = (await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)).json()["assets"]
    for lot in lots:
        del lot["lotId"], lot["sourceTransactionId"]
    renamed = await client.put(
        f"{V1}/{portfolio_id}", json={"name": "$x^$ fund", "assets": lots}, headers=alice.headers
    )
    assert renamed.status_code == 200, renamed.text
    response = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": "value", "format": "svg", "end": end.isoformat()},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    assert "$x^$ fund: value" in response.text


# --- what a chart says, read from its SVG ------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"
XLINK_USE = f"{SVG}use"
DAY_FORMATS = ("%d %b %Y", "%b %Y", "%Y")


def _svg(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    return ET.fromstring(response.content)  # noqa: S314 (our own output)


def _group(root: ET.Element, gid: str) -> ET.Element | None:
    return next((g for g in root.iter(f"{SVG}g") if g.get("id") == gid), None)


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def _day(label: str) -> date:
    for fmt in DAY_FORMATS:
        try:
            return datetime.strptime(label, fmt).replace(tzinfo=UTC).date()
        except ValueError:
            continue
    raise AssertionError(f"tick {label!r} is not a readable date")


def _ticks(root: ET.Element, axis: str) -> list[tuple[float, str]]:
    """(position in the SVG, label) of each tick of the x or y axis."""
    found = []
    for g in root.iter(f"{SVG}g"):
        if (g.get("id") or "").startswith(f"{axis}tick_"):
            mark = next(g.iter(XLINK_USE))
            (label,) = _texts(g)
            found.append((float(mark.get(axis) or "nan"), label))
    return found


def _scale(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The linear map from SVG position to data (slope, intercept) through the first and last
    of ``points`` (position, data value)."""
    (p0, v0), (p1, v1) = points[0], points[-1]
    slope = (v1 - v0) / (p1 - p0)
    return slope, v0 - slope * p0


def _axes_scales(root: ET.Element) -> tuple[tuple[float, float], tuple[float, float]]:
    """SVG x → days since the epoch and SVG y → money, from the labelled ticks."""
    epoch = date(1970, 1, 1)
    xs = [(x, float((_day(label) - epoch).days)) for x, label in _ticks(root, "x")]
    ys = [(y, float(label.split(" ")[0].replace(",", ""))) for y, label in _ticks(root, "y")]
    return _scale(xs), _scale(ys)


def _points(root: ET.Element, gid: str) -> list[tuple[float, float]]:
    group = _group(root, gid)
    assert group is not None, f"no {gid} in the chart"
    return [(float(u.get("x") or "nan"), float(u.get("y") or "nan")) for u in group.iter(XLINK_USE)]


async def _post(client: httpx.AsyncClient, who: Account, portfolio_id: str, **row: str) -> None:
    added = await client.post(f"{V1}/{portfolio_id}/transactions", json=row, headers=who.headers)
    assert added.status_code == 201, added.text


async def _busy_portfolio(client: httpx.AsyncClient, who: Account) -> tuple[str, date, date]:
    """`make_portfolio` (two lots, a deposit) with a second deposit on the first one's day, a
    dividend, a sale and a withdrawal: every kind of marked flow, and one that is not."""
    portfolio_id, start, end = await make_portfolio(client, who)
    on = {n: (start + timedelta(days=n)).isoformat() for n in (45, 50, 60, 75)}
    await _post(client, who, portfolio_id, date=on[45], type="deposit", amount="250")
    await _post(client, who, portfolio_id, date=on[50], type="dividend", symbol="AAPL", amount="4")
    await _post(
        client,
        who,
        portfolio_id,
        date=on[60],
        type="sell",
        symbol="AAPL",
        quantity="5",
        price="200",
    )
    await _post(client, who, portfolio_id, date=on[75], type="withdrawal", amount="500")
    return portfolio_id, start, end


async def _performance(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, **params: str
) -> dict[str, Any]:
    response = await client.get(
        f"{V1}/{portfolio_id}/performance", params=params, headers=who.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("window_from", [0, 40])
async def test_the_value_chart_marks_each_days_deposits_withdrawals_buys_and_sells_on_the_line(
    client: httpx.AsyncClient, alice: Account, window_from: int
) -> None:
    portfolio_id, start, end = await _busy_portfolio(client, alice)
    params = {"start": (start + timedelta(days=window_from)).isoformat(), "end": end.isoformat()}
    perf = await _performance(client, alice, portfolio_id, **params)
    values = {p["date"]: float(p["value"]) for p in perf["series"]}
    ledger = (await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)).json()
    response = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": "value", "format": "svg", **params},
        headers=alice.headers,
    )
    root = _svg(response)
    (x_scale, y_scale) = _axes_scales(root)
    epoch = date(1970, 1, 1)
    for kind, label in [
        ("deposit", "Deposit"),
        ("withdrawal", "Withdrawal"),
        ("buy", "Buy"),
        ("sell", "Sell"),
    ]:
        days = sorted(
            {t["date"] for t in ledger["transactions"] if t["type"] == kind and t["date"] in values}
        )
        group = _group(root, f"marks-{kind}")
        if not days:
            assert group is None, f"{kind} marked with none in the window"
            continue
        assert label in _texts(root)  # in the legend
        marks = _points(root, f"marks-{kind}")
        assert len(marks) == len(days), (kind, days)
        for (x, y), day in zip(sorted(marks), days, strict=True):
            shown_day = epoch + timedelta(days=round(x * x_scale[0] + x_scale[1]))
            assert shown_day.isoformat() == day
            assert abs(y * y_scale[0] + y_scale[1] - values[day]) < 0.01  # on the value line
    assert _group(root, "marks-dividend") is None
    assert _group(root, "net-contributions") is None  # only when asked


@pytest.mark.parametrize("window_from", [0, 40])
async def test_net_contributions_step_with_the_ledgers_flows_beside_the_value(
    client: httpx.AsyncClient, alice: Account, window_from: int
) -> None:
    portfolio_id, start, end = await _busy_portfolio(client, alice)
    params = {"start": (start + timedelta(days=window_from)).isoformat(), "end": end.isoformat()}
    perf = await _performance(client, alice, portfolio_id, **params)
    response = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": "value", "format": "svg", "contributions": "true", **params},
        headers=alice.headers,
    )
    root = _svg(response)
    assert "Net contributions" in _texts(root)
    group = _group(root, "net-contributions")
    assert group is not None
    (path,) = group.iter(f"{SVG}path")
    ys = [float(y) for y in re.findall(r"[ML] [\d.]+ ([\d.]+)", path.get("d") or "")]
    _, (slope, intercept) = _axes_scales(root)
    levels = [round(y * slope + intercept, 2) for y in ys]
    levels = [v for i, v in enumerate(levels) if i == 0 or v != levels[i - 1]]

    # From the ledger: lots with no cash to pay for them are bought with money put in; the
    # sale and the dividend stay inside; the deposits and the withdrawal cross the boundary.
    if window_from == 0:
        expected = [1500.0, 11500.0, 12750.0, 12250.0]  # 10 x 150; + 0.25 x 40,000; ...
    else:  # before the window: what the portfolio held on its first day
        first = perf["series"][0]
        opening = round(float(first["value"]) - float(first["netFlow"]), 2)
        expected = [opening, opening + 1250, opening + 750]
    assert levels == pytest.approx(expected, abs=0.02)


@pytest.mark.parametrize(
    ("kind", "heading", "units"),
    [
        ("value", "value", "Value (USD)"),
        ("drawdown", "drawdown", "Drawdown from the previous peak (%)"),
        ("benchmark", "against SPY", "Cumulative return (%)"),
        ("allocation", "allocation", "% of value"),
    ],
)
async def test_every_chart_has_a_title_its_period_units_and_whole_dates(
    client: httpx.AsyncClient, alice: Account, kind: str, heading: str, units: str
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    perf = await _performance(client, alice, portfolio_id, end=end.isoformat())
    response = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": kind, "format": "svg", "end": end.isoformat()},
        headers=alice.headers,
    )
    root = _svg(response)
    texts = _texts(root)
    assert f"Growth: {heading}" in texts
    first, last = (date.fromisoformat(perf["series"][i]["date"]) for i in (0, -1))
    if kind == "allocation":
        as_of = date.fromisoformat(perf["asOf"])
        (subtitle,) = [t for t in texts if t.startswith("On ")]
        assert f"On {as_of:%d %b %Y}" in subtitle
        assert f"{float(perf['marketValue']):,.0f} USD" in subtitle
        assert units in subtitle
        for slice_ in perf["allocation"]:
            legend = f"{slice_['symbol']} ({slice_['assetClass']}): {slice_['weight']:.1%}"
            assert legend in texts
        return
    assert units in texts
    assert "Date" in texts
    (subtitle,) = [t for t in texts if " to " in t]
    assert subtitle.startswith(f"{first:%d %b %Y} to {last:%d %b %Y}")
    days = [_day(label) for _, label in _ticks(root, "x")]
    assert len(days) >= 3
    assert all(first - timedelta(days=31) <= d <= last for d in days)
    assert all(str(d.year) in label for d, (_, label) in zip(days, _ticks(root, "x"), strict=True))


async def test_a_png_value_chart_shows_its_marks_and_contributions_at_the_promised_size(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, _, end = await _busy_portfolio(client, alice)
    response = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": "value", "contributions": "true", "end": end.isoformat()},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    pixels = image.imread(io.BytesIO(response.content), format="png")
    assert pixels.shape[:2] == (550, 1000)
    rgb = (pixels[..., :3] * 255).round()

    def share_of(colour: str) -> float:
        target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        return float((np.abs(rgb - target).max(axis=-1) <= 2).mean())

    for colour in ("#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#7f7f7f"):  # marks, contributions
        assert share_of(colour) > 0.0001, colour


@pytest.mark.parametrize("kind", ["value", "allocation"])
async def test_a_chart_of_incomplete_data_says_so(
    client: httpx.AsyncClient, alice: Account, kind: ChartKind
) -> None:
    """A performance answer with ``dataStatus.complete`` false (prices still loading) is drawn
    with a warning naming what is missing; a complete one without."""
    portfolio_id, _, end = await make_portfolio(client, alice)
    answer = await _performance(client, alice, portfolio_id, end=end.isoformat())
    perf = Performance.model_validate(answer).model_dump(by_alias=True)
    missing = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA"]
    perf["dataStatus"] = {"complete": False, "missingSymbols": missing, "progress": 0.4}
    root = ET.fromstring(draw_chart(perf, kind, "svg", "Growth"))  # noqa: S314 (our own output)
    warnings = [t for t in _texts(root) if t.startswith("Data incomplete")]
    assert warnings == [
        "Data incomplete: price history still loading (40% stored); "
        "no prices yet for AAPL, MSFT, NVDA, AMZN, GOOG and 2 more"
    ]  # once, however the chart came to be incomplete
    perf["dataStatus"] = {"complete": True, "missingSymbols": [], "progress": 1.0}
    root = ET.fromstring(draw_chart(perf, kind, "svg", "Growth"))  # noqa: S314 (our own output)
    assert not [t for t in _texts(root) if t.startswith("Data incomplete")]


MONEY_FIELDS = {"value", "netFlow", "benchmarkValue"}


def _as_decimals(data: Any) -> Any:
    """The performance with its money as `Decimal`s, as the answer holds them once its money
    fields are decimal strings."""
    if isinstance(data, dict):
        return {
            k: Decimal(str(v)) if k in MONEY_FIELDS and v is not None else _as_decimals(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_as_decimals(v) for v in data]
    return data


@pytest.mark.parametrize("kind", ["value", "drawdown", "allocation", "benchmark"])
async def test_money_as_decimals_draws_the_same_chart_as_money_as_floats(
    client: httpx.AsyncClient, alice: Account, kind: ChartKind
) -> None:
    portfolio_id, _, end = await _busy_portfolio(client, alice)
    answer = await _performance(client, alice, portfolio_id, end=end.isoformat())
    perf = Performance.model_validate(answer).model_dump(by_alias=True)
    marks = [(date.fromisoformat(p["date"]), "deposit") for p in answer["series"][::20]]
    floats = draw_chart(perf, kind, "svg", "Growth", marks=marks, contributions=True)
    exact = draw_chart(_as_decimals(perf), kind, "svg", "Growth", marks=marks, contributions=True)
    assert exact == floats
    assert b"Growth: " in exact


@pytest.mark.parametrize("kind", ["value", "allocation"])
async def test_a_restyled_matplotlib_draws_the_same_chart(
    client: httpx.AsyncClient, alice: Account, kind: ChartKind
) -> None:
    """A library that restyles matplotlib globally when imported (quantstats sets a seaborn
    theme: no tick marks, other fonts) changes no chart: the same bytes, tick marks on the
    axes."""
    portfolio_id, _, end = await _busy_portfolio(client, alice)
    answer = await _performance(client, alice, portfolio_id, end=end.isoformat())
    perf = Performance.model_validate(answer).model_dump(by_alias=True)
    plain = draw_chart(perf, kind, "svg", "Growth")
    with matplotlib.style.context("seaborn-v0_8-darkgrid"):
        restyled = draw_chart(perf, kind, "svg", "Growth")
    assert restyled == plain
    if kind == "value":
        root = ET.fromstring(restyled)  # noqa: S314 (our own output)
        assert len(_ticks(root, "x")) >= 2
        assert len(_ticks(root, "y")) >= 2


@pytest.mark.parametrize("kind", ["value", "drawdown", "benchmark"])
async def test_a_window_without_a_valued_day_is_drawn_as_such_not_as_1970(
    client: httpx.AsyncClient, alice: Account, kind: str
) -> None:
    """A weekend's window has no valued day: the chart says so (the value chart with what the
    window's end is worth) instead of empty axes dated 1 January 1970 and valued "-0 USD"."""
    lot = {"symbol": "AAPL", "quantity": "10", "purchasePrice": "185", "purchaseDate": "2024-02-05"}
    portfolio_id = await new_portfolio(client, alice, [], [lot])
    saturday = date(2024, 3, 9)
    window = {"start": saturday.isoformat(), "end": (saturday + timedelta(days=1)).isoformat()}
    perf = await _performance(client, alice, portfolio_id, **window)
    assert perf["series"] == []
    response = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": kind, "format": "svg", **window},
        headers=alice.headers,
    )
    root = _svg(response)
    texts = _texts(root)
    assert "No valued day in this window (its markets had no session)" in texts
    worth = f"Its value on {saturday + timedelta(days=1):%d %b %Y}: "
    worth += f"{Decimal(perf['marketValue']):,} USD"
    assert (worth in texts) == (kind == "value")
    assert not [t for t in texts if "1970" in t]
    assert _ticks(root, "x") == _ticks(root, "y") == []
