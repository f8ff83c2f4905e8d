"""A file sent as a multipart upload (an HTML form, ``curl -F file=@trades.csv``, an API
client's "form-data" file) imports as the same file sent as the body; a form-encoded body
(``curl -d @file``, which loses the line breaks) is 415; a form without the file is 422; a
malformed one is 400; none of them changes anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from flint.portfolio import import_jobs
from tests.conftest import Account, assert_problem, error_fields
from tests.portfolio.test_import_background import ASYNC, large_file, ledger_size
from tests.portfolio.test_import_export import CSV, GOOD, V1, new_portfolio, over_5_mib

SAMPLES = Path(__file__).parent / "samples"


def as_rows(response: httpx.Response) -> list[tuple[Any, ...]]:
    return [
        (r["date"], r["type"], r["symbol"], r["quantity"], r["price"], r["fee"], r["amount"])
        for r in response.json()["transactions"]
    ]


async def test_a_multipart_upload_imports_as_the_same_file_sent_as_the_body(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    as_body = await new_portfolio(client, alice)
    sent = await client.post(f"{V1}/{as_body}/import", content=GOOD, headers=alice.headers | CSV)
    assert sent.status_code == 201, sent.text

    uploaded = await new_portfolio(client, alice)
    response = await client.post(
        f"{V1}/{uploaded}/import",
        files={"file": ("trades.csv", GOOD.encode(), "text/csv")},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    assert as_rows(response) == as_rows(sent)
    assert response.json()["imported"] == sent.json()["imported"]

    again = await client.post(  # the only part of a form, whatever its name; and the query
        f"{V1}/{uploaded}/import",
        params={"preset": "auto"},
        files={"upload": ("trades.csv", GOOD.encode(), "text/csv")},
        headers=alice.headers,
    )
    assert again.status_code == 200, again.text
    assert again.json()["skipped"] == len(as_rows(sent))
    assert await ledger_size(app, uploaded) == len(as_rows(sent))


async def test_a_broker_export_uploaded_with_other_fields_is_read_by_its_preset(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    data = (SAMPLES / "trading212.csv").read_bytes()
    response = await client.post(
        f"{V1}/{portfolio_id}/import",
        params={"preset": "auto"},
        # A form's other fields are left alone, however many (nine or more were 400: "Too many
        # fields", though the document's form takes any others).
        data={"note": "my Trading 212 history"} | {f"extra{k}": str(k) for k in range(20)},
        files={"file": ("from_2024.csv", data, "application/octet-stream")},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["imported"]["buy"] >= 1


async def test_an_upload_over_the_background_size_is_kept_as_the_file_alone(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    body = large_file(import_jobs.BACKGROUND_BYTES).encode()
    response = await client.post(
        f"{V1}/{portfolio_id}/import",
        files={"file": ("big.csv", body, "text/csv")},
        headers=alice.headers,
    )
    assert response.status_code == 202, response.text
    assert response.json()["sizeBytes"] == len(body)  # not the form around it

    asked = await client.post(
        f"{V1}/{portfolio_id}/import",
        files={"file": ("small.csv", GOOD.encode(), "text/csv")},
        headers=alice.headers | ASYNC,
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["sizeBytes"] == len(GOOD.encode())


async def test_forms_that_cannot_carry_the_file_are_refused_and_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    url = f"{V1}/{portfolio_id}/import"

    encoded = await client.post(  # what curl -d @trades.csv sends: the line breaks gone
        url,
        content=GOOD.replace("\n", "").encode(),
        headers=alice.headers | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    problem = assert_problem(encoded, 415)
    assert "--data-binary" in problem["detail"]
    assert "-F file=@" in problem["detail"]

    no_file = await client.post(
        url,
        data={"a": "1", "b": "2"},
        files={"x": ("x.csv", b"", "text/csv")},
        headers=alice.headers,
    )
    assert_problem(no_file, 422)
    assert error_fields(no_file.json()) == {"body.file"}

    twice = await client.post(
        url,
        files=[("file", ("a.csv", GOOD.encode(), "text/csv"))] * 2,
        headers=alice.headers,
    )
    assert_problem(twice, 422)
    assert error_fields(twice.json()) == {"body.file"}

    malformed = await client.post(  # no boundary: no part can be found
        url, content=GOOD, headers=alice.headers | {"Content-Type": "multipart/form-data"}
    )
    assert_problem(malformed, 400)

    big = over_5_mib().encode()
    too_large = await client.post(
        url, files={"file": ("big.csv", big, "text/csv")}, headers=alice.headers
    )
    assert_problem(too_large, 413)

    assert await ledger_size(app, portfolio_id) == 0
    jobs = await client.get(f"{V1}/{portfolio_id}/imports", headers=alice.headers)
    assert jobs.json()["imports"] == []


async def test_a_ghostfolio_export_can_be_uploaded_as_a_form(
    client: httpx.AsyncClient, alice: Account
) -> None:
    data = (SAMPLES / "ghostfolio_export.json").read_bytes()
    response = await client.post(
        f"{V1}/import/ghostfolio",
        files={"file": ("ghostfolio-export.json", data, "application/json")},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    sent = json.loads(data)
    assert len(response.json()["portfolios"]) >= len(sent["accounts"])

    again = await client.post(f"{V1}/import/ghostfolio", content=data, headers=alice.headers)
    assert again.status_code == 200, again.text  # the same file as the body: nothing new

    encoded = await client.post(
        f"{V1}/import/ghostfolio",
        content=data,
        headers=alice.headers | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(encoded, 415)


async def test_the_documents_offer_the_upload_with_a_file_picker(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path in ("/api/v1/portfolio/{portfolioId}/import", "/api/v1/portfolio/import/ghostfolio"):
        operation = document["paths"][path]["post"]
        form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["required"] == ["file"]
        assert form["properties"]["file"]["format"] == "binary"
        assert "415" in operation["responses"]
