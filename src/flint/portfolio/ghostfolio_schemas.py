"""Ghostfolio's export file (what its "Export" button writes: `ExportResponse` in
ghostfolio/ghostfolio `libs/common/src/lib/interfaces/responses/export-response.interface.ts`,
read as its `ImportDataDto` reads it), and what Flint answers after importing one.

The file's fields are camelCase like Flint's own; fields Flint does not use are ignored. Numbers
are read as exact decimals from the JSON text."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field

from flint.kit.money import DecimalString
from flint.kit.schema import ApiModel, any_case


def _json_number(value: Any) -> Any:
    """A number as JSON writes it (read exactly, `parse`), never text: Ghostfolio writes
    numbers (its import checks ``@IsNumber``), and Python's Decimal reads texts no document
    could state (``"1_000"``, full-width digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return value


Number = Annotated[Decimal, Field(allow_inf_nan=True), BeforeValidator(_json_number)]
"""A number of the file, NaN and infinities too (JSON has none, Python's reader does): the
reader names them with the other problems."""


class GfModel(ApiModel):
    """A part of the file, read by its camelCase names only (Ghostfolio's; a snake_case key is
    one more field the file may carry and Flint ignores, as the document says)."""

    model_config = ConfigDict(validate_by_name=False)


class GfMarketData(GfModel):
    date: str
    market_price: Number


class GfAssetProfile(GfModel):
    symbol: str
    data_source: str
    currency: str | None = None
    name: str | None = None
    asset_class: str | None = None
    asset_sub_class: str | None = None
    market_data: list[GfMarketData] | None = None


class GfBalance(GfModel):
    date: str
    value: Number


class GfAccount(GfModel):
    id: str | None = None
    name: str
    currency: str
    balance: Number | None = None
    """Older files: the cash balance as of the export."""
    balances: list[GfBalance] | None = None
    """Newer files: the cash balance's history."""
    comment: str | None = None
    platform_id: str | None = None
    tags: list[str] | None = None


class GfActivity(GfModel):
    account_id: str | None = None
    comment: str | None = None
    currency: str | None = None
    data_source: str | None = None
    date: str
    fee: Number = Decimal(0)
    quantity: Number
    symbol: str | None = None
    type: str
    unit_price: Number
    tags: list[str] | None = None


class GfFile(GfModel):
    meta: dict[str, Any] | None = None
    accounts: list[GfAccount] | None = None
    activities: list[GfActivity]
    asset_profiles: list[GfAssetProfile] | None = None
    platforms: list[dict[str, Any]] | None = None
    tags: list[dict[str, Any]] | None = None
    user: dict[str, Any] | None = None


class BalanceFlow(ApiModel):
    """A deposit or withdrawal that makes the cash the account's balance on its day."""

    where: str = Field(examples=["accounts[0].balances[1]"])
    date: dt.date = Field(examples=["2023-12-31"])
    type: str = Field(examples=["deposit"])
    amount: DecimalString = Field(description="In the base currency.", examples=["201.32"])


class ImportedPortfolio(ApiModel):
    portfolio_id: uuid.UUID = Field(examples=["8f14e45f-ceea-4e7a-9b3d-2c1a6b7e9d10"])
    name: str = Field(examples=["My Online Trading Account"])
    base_currency: str = Field(examples=["USD"])
    account_id: str | None = Field(
        description="The Ghostfolio account it holds (null: the activities without one, or "
        "every account with `portfolios=one`).",
        examples=["b2d3fe1d-d6a8-41a3-be39-07ef5e9480f0"],
    )
    created: bool = Field(
        description="False when the portfolio an earlier import made of this account (or, "
        "with `portfolios=one`, of this name) was used: only what it lacked was added.",
        examples=[True],
    )
    allow_negative_cash: bool = Field(examples=[False])
    transactions: dict[str, int] = Field(
        description="Ledger rows created, per Flint transaction type.",
        examples=[{"buy": 3, "sell": 1, "dividend": 2, "deposit": 1}],
    )
    skipped: int = Field(
        description="The file's rows (balance flows included) the portfolio had imported "
        "before, and so were not added again.",
        examples=[0],
    )
    balance_flows: list[BalanceFlow] = Field(
        description="The deposits and withdrawals (among `transactions`) added for the "
        "account's cash balances."
    )


class ImportedAsset(ApiModel):
    ghostfolio_symbol: str = Field(examples=["7e91b7d4-1430-4212-8380-289a06c9bbc1"])
    symbol: str = Field(description="The Flint custom asset it became.", examples=["GF:PENTHOUSE"])
    name: str = Field(examples=["Penthouse Apartment"])
    created: bool = Field(
        description="False when one of your custom assets with this symbol, name and currency "
        "was used (only the prices of days it had none were added).",
        examples=[True],
    )
    prices: int = Field(description="Prices added.", examples=[2])


class NotImported(ApiModel):
    where: str = Field(examples=["activities[7]"])
    reason: str = Field(examples=["a LIABILITY has no place in a Flint ledger"])


class GhostfolioImport(ApiModel):
    portfolios: list[ImportedPortfolio]
    custom_assets: list[ImportedAsset]
    not_imported: list[NotImported]


MAX_NUMBER = 1_000_000_000_000
"""The largest magnitude of a number of the file (Flint's largest amount)."""
HALF_PLACE = 0.000000005
"""Half of Flint's eighth decimal place: a number is kept to eight places, half to even, so a
positive one must be above this not to become 0 (and a negative one at least its negative to
become -0)."""
TYPES = ("BUY", "SELL", "DIVIDEND", "FEE", "INTEREST", "ITEM", "LIABILITY")
CURRENCY_PATTERN = r"^\s*(?:[A-Z]{3}|GBp)\s*$"
"""An activity's currency, as a ledger row takes it (`flint.portfolio.schemas.AmountCurrency`,
around which a request's text may have whitespace)."""


def one_of(*words: str) -> str:
    """A pattern of any of ``words`` in any ASCII case (what the reader upper-cases)."""
    return f"^(?:{'|'.join(any_case(word) for word in words)})$"


def _date() -> dict[str, Any]:
    return {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}


def _number(**bounds: float) -> dict[str, Any]:
    return {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER, **bounds}


def _text_or_null() -> dict[str, Any]:
    return {"type": ["string", "null"]}


def _is(field: str, pattern: str) -> dict[str, Any]:
    return {"required": [field], "properties": {field: {"type": "string", "pattern": pattern}}}


def _activity() -> dict[str, Any]:
    """An activity: its types everywhere; the reader's rules on all but a LIABILITY (which is
    listed as not imported, nothing of it read)."""
    manual_or_none = {
        "anyOf": [
            {"not": {"required": ["dataSource"]}},
            {"properties": {"dataSource": {"type": "null"}}},
            {"properties": {"dataSource": {"const": ""}}},
            _is("dataSource", one_of("MANUAL")),
        ]
    }
    imported = {
        "properties": {
            "date": _date(),
            "quantity": _number(),
            "unitPrice": _number(),
            "fee": _number(),
            "currency": {
                "anyOf": [{"type": "null"}, {"type": "string", "pattern": CURRENCY_PATTERN}]
            },
        },
        "allOf": [
            {
                # a trade's units and price become a buy's or sell's (above 0 at 8 places),
                # and no fee of any kind but a FEE's own is below 0
                "if": _is("type", one_of("BUY", "SELL", "ITEM")),
                "then": {
                    "properties": {
                        "quantity": _number(exclusiveMinimum=HALF_PLACE),
                        "unitPrice": _number(exclusiveMinimum=HALF_PLACE),
                    }
                },
            },
            {
                "if": _is("type", one_of("FEE")),
                "else": {"properties": {"fee": _number(minimum=-HALF_PLACE)}},
            },
            {
                # a symbol: always, but for a FEE or INTEREST of no listed data source
                "if": {"allOf": [_is("type", one_of("FEE", "INTEREST")), manual_or_none]},
                "else": {
                    "required": ["symbol"],
                    "properties": {"symbol": {"type": "string", "minLength": 1}},
                },
            },
        ],
    }
    return {
        "type": "object",
        "required": ["date", "quantity", "type", "unitPrice"],
        "properties": {
            "accountId": _text_or_null(),
            "comment": _text_or_null(),
            "currency": _text_or_null(),
            "dataSource": _text_or_null(),
            "date": {"type": "string"},
            "fee": {"type": "number"},
            "quantity": {"type": "number"},
            "symbol": _text_or_null(),
            "type": {"type": "string", "pattern": one_of(*TYPES)},
            "unitPrice": {"type": "number"},
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        },
        "if": _is("type", one_of("LIABILITY")),
        "else": imported,
    }


def _account(bases: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name", "currency"],
        "properties": {
            "id": _text_or_null(),
            "name": {"type": "string"},
            "currency": {"type": "string", "enum": list(bases)},
            "balance": {"anyOf": [{"type": "null"}, _number()]},
            "balances": {
                "type": ["array", "null"],
                "items": {
                    "type": "object",
                    "required": ["date", "value"],
                    "properties": {"date": _date(), "value": _number()},
                },
            },
            "comment": _text_or_null(),
            "platformId": _text_or_null(),
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        },
    }


def _asset_profile() -> dict[str, Any]:
    point = {
        "type": "object",
        "required": ["date", "marketPrice"],
        "properties": {"date": {"type": "string"}, "marketPrice": {"type": "number"}},
    }
    manual_point = {
        "properties": {"date": _date(), "marketPrice": _number(exclusiveMinimum=HALF_PLACE)}
    }
    return {
        "type": "object",
        "required": ["symbol", "dataSource"],
        "properties": {
            "symbol": {"type": "string"},
            "dataSource": {"type": "string"},
            **{name: _text_or_null() for name in ("currency", "name", "assetClass")},
            "assetSubClass": _text_or_null(),
            "marketData": {"type": ["array", "null"], "items": point},
        },
        "if": {"required": ["dataSource"], "properties": {"dataSource": {"const": "MANUAL"}}},
        "then": {"properties": {"marketData": {"items": manual_point}}},
    }


def file_schema(bases: Sequence[str]) -> dict[str, Any]:
    """What the OpenAPI document says of the file (`GfFile` reads it, numbers exactly, and
    `flint.portfolio.ghostfolio.Reader` checks it): every rule the reader applies that a
    schema can state. ``bases``: the currencies an account may be in (a portfolio's base)."""
    activities = {"type": "array", "items": _activity()}
    objects = {"type": ["array", "null"], "items": {"type": "object"}}
    return {
        "title": "GhostfolioExport",
        "type": "object",
        "description": "Ghostfolio's export file (its Export button's JSON), as written and "
        "read. The oldest files name the activities `orders`.",
        "properties": {
            "meta": {
                "type": ["object", "null"],
                "description": "`date` of the export and Ghostfolio's `version`.",
                "properties": {"date": {"anyOf": [{"type": "null"}, _date()]}},
            },
            "accounts": {"type": ["array", "null"], "items": _account(bases)},
            "activities": activities,
            "assetProfiles": {"type": ["array", "null"], "items": _asset_profile()},
            "platforms": objects,
            "tags": objects,
            "user": {"type": ["object", "null"]},
        },
        "if": {"required": ["activities"]},
        "else": {"required": ["orders"], "properties": {"orders": activities}},
        "examples": [
            {
                "meta": {"date": "2024-07-01T08:15:42.318Z", "version": "2.95.0"},
                "accounts": [
                    {
                        "id": "b2d3fe1d-d6a8-41a3-be39-07ef5e9480f0",
                        "name": "Interactive Brokers",
                        "currency": "USD",
                        "balances": [{"date": "2024-06-30T00:00:00.000Z", "value": 2500}],
                        "comment": None,
                        "platformId": None,
                    }
                ],
                "activities": [
                    {
                        "accountId": "b2d3fe1d-d6a8-41a3-be39-07ef5e9480f0",
                        "comment": None,
                        "currency": "USD",
                        "dataSource": "YAHOO",
                        "date": "2023-01-03T00:00:00.000Z",
                        "fee": 1,
                        "quantity": 10,
                        "symbol": "AAPL",
                        "type": "BUY",
                        "unitPrice": 125.07,
                    }
                ],
                "assetProfiles": [],
                "user": {"settings": {"currency": "USD"}},
            }
        ],
    }
