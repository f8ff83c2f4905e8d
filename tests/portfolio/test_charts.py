"""Performance charts: real PNG and SVG images with labelled axes and readable dates."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import httpx
import pytest
from matplotlib import image

from tests.conftest import Account, assert_problem, error_fields
from tests.portfolio.test_performance_api import V1, make_portfolio


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
