"""Teller's JSON to Flint's accounts, balances and transactions, by the rules in the package
docstring; anything missing or malformed is ProviderGarbage."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog

from flint.brokerage.teller.client import NAME
from flint.brokerage.types import MAX_NUMBER, AccountType, Balances, ProviderAccount, Transaction
from flint.kit.schema import DECIMAL_TEXT
from flint.kit.vendor_errors import ProviderGarbage

log = structlog.get_logger(__name__)


def objects(body: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise ProviderGarbage(NAME, f"{what} is not a list of objects")
    return body


def text(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ProviderGarbage(NAME, f"{what} has no {key}")
    return value


def _decimal(value: Any, what: str, *, optional: bool = False) -> Decimal | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ProviderGarbage(NAME, f"{what} is missing or not a decimal string")
    if not DECIMAL_TEXT.fullmatch(value):  # Decimal also reads 1_000 and full-width digits
        raise ProviderGarbage(NAME, f"{what} is not a number")
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the grammar admits only numbers
        raise ProviderGarbage(NAME, f"{what} is not a number") from None
    if not number.is_finite():
        raise ProviderGarbage(NAME, f"{what} is not a finite number")
    if number.copy_abs() >= MAX_NUMBER:
        raise ProviderGarbage(NAME, f"{what} is too large")
    return number


def accounts(raw: list[dict[str, Any]]) -> list[ProviderAccount]:
    accounts = []
    for item in raw:
        account = _account_of(item)
        if account is not None and item.get("status") == "open":
            accounts.append(account)
    return accounts


def _account_of(raw: dict[str, Any]) -> ProviderAccount | None:
    account_id = text(raw, "id", "an account")
    kind = text(raw, "type", "an account")
    subtype = raw.get("subtype")
    text(raw, "status", "an account")
    if kind == "depository":
        account_type = AccountType.CHECKING if subtype == "checking" else AccountType.SAVINGS
    elif kind == "credit":
        account_type = AccountType.CREDIT
    else:
        log.warning("teller_account_type_unknown", account_id=account_id, type=kind[:40])
        return None
    institution = raw.get("institution")
    if not isinstance(institution, dict):
        raise ProviderGarbage(NAME, "an account has no institution")
    last_four = raw.get("last_four")
    return ProviderAccount(
        id=account_id,
        name=text(raw, "name", "an account"),
        type=account_type,
        currency=text(raw, "currency", "an account").upper(),
        institution=text(institution, "name", "an account's institution"),
        mask=last_four if isinstance(last_four, str) and last_four else None,
    )


def account_facts(raw: Any) -> dict[str, str]:
    """One account's ``type`` and upper-cased ``currency``: its balances and transactions are
    read with them, as they carry neither."""
    if not isinstance(raw, dict):
        raise ProviderGarbage(NAME, "the account is not an object")
    return {
        "type": text(raw, "type", "the account"),
        "currency": text(raw, "currency", "the account").upper(),
    }


def balances(body: Any, account: dict[str, str]) -> Balances:
    """The balances of ``account``, given as its :func:`account_facts`."""
    if not isinstance(body, dict):
        raise ProviderGarbage(NAME, "the balances are not an object")
    ledger = _decimal(body.get("ledger"), "the ledger balance", optional=True)
    available = _decimal(body.get("available"), "the available balance", optional=True)
    current = ledger
    if current is None and account["type"] != "credit":
        current = available
    if current is None:
        raise ProviderGarbage(NAME, "the balances have no ledger balance")
    return Balances(currency=account["currency"], current=current, available=available)


def transaction(raw: dict[str, Any], credit: bool, currency: str) -> Transaction:
    what = "a transaction"
    txn_id = text(raw, "id", what)
    try:
        day = date.fromisoformat(text(raw, "date", what))
    except ValueError:
        raise ProviderGarbage(NAME, "a transaction has a malformed date") from None
    amount = _decimal(raw.get("amount"), "a transaction amount")
    assert amount is not None  # not optional
    status = raw.get("status")
    if status not in ("posted", "pending"):
        raise ProviderGarbage(NAME, "a transaction has no posted/pending status")
    description = raw.get("description")
    if not isinstance(description, str):
        raise ProviderGarbage(NAME, "a transaction has no description")
    details = raw.get("details")
    category = details.get("category") if isinstance(details, dict) else None
    kind = raw.get("type")
    return Transaction(
        id=txn_id,
        date=day,
        amount=-amount if credit and amount else amount,
        description=description,
        status=status,
        category=category if isinstance(category, str) else None,
        type=kind if isinstance(kind, str) else None,
        currency=currency,
    )
