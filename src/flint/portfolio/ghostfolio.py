"""Ghostfolio's export file, read into a plan of Flint portfolios, ledgers and custom assets.

Nothing is written here: `read` checks the whole file and answers a `Plan` (or refuses with
every bad activity named ``activities[N].field``); `ghostfolio_apply` carries it out. The
mapping is documented in docs/api.md ("Ghostfolio")."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import ValidationError

from flint.errors import ValidationFailed, error_message, field_error, field_path
from flint.kit.money import PRICE_STEP
from flint.kit.symbols import CUSTOM_SYMBOL_PATTERN, normalize_symbol
from flint.portfolio import currencies
from flint.portfolio.dates import date_problem
from flint.portfolio.ghostfolio_schemas import GfAccount, GfActivity, GfAssetProfile, GfFile
from flint.portfolio.schemas import MAX_AMOUNT, TransactionIn
from flint.portfolio.symbols import Instruments

Mode = Literal["each", "one"]
TAX_MARK = "flint:tax"
"""The comment Flint's export gives a tax (Ghostfolio has none: it is written as a FEE)."""
TYPES = {"BUY", "SELL", "DIVIDEND", "FEE", "INTEREST", "ITEM", "LIABILITY"}
ASSET_TRADES = {"BUY", "SELL", "DIVIDEND", "ITEM"}
SUB_CLASSES = {
    "PRIVATE_EQUITY": "private_equity",
    "BOND": "bond",
    "MUTUALFUND": "fund",
    "ETF": "fund",
    "CASH": "cash_equivalent",
    "COMMODITY": "commodity",
    "PRECIOUS_METAL": "commodity",
    "COLLECTIBLE": "collectible",
    "CRYPTOCURRENCY": "crypto",
}
CLASSES = {
    "REAL_ESTATE": "real_estate",
    "FIXED_INCOME": "bond",
    "COMMODITY": "commodity",
    "LIQUIDITY": "cash_equivalent",
}
BASE = re.compile(r"^[A-Z]{3}$")
FLINT_MANUAL = re.compile(r"^GF_([A-Z][A-Z0-9]{0,7})_(.+)$")
"""How Flint's export names a custom asset for Ghostfolio (``MY:HOUSE`` as ``GF_MY_HOUSE``)."""


@dataclass
class CustomPlan:
    """A MANUAL asset of the file, as a Flint custom asset."""

    ghostfolio_symbol: str
    symbol: str
    name: str
    currency: str
    asset_class: str
    prices: dict[date, Decimal]
    trades: list[tuple[date, Decimal, bool]] = field(default_factory=list)
    """Its trades' (day, unit price, whether a buy)."""

    def settle_prices(self) -> None:
        """Its ``marketData``; without any, its trades' unit prices on their days. A buy
        before the first given price is priced on its day too (Flint cannot buy an asset
        before its first price)."""
        given = bool(self.prices)
        for day, price, buy in self.trades:
            if not given or (buy and not any(d <= day for d in self.prices)):
                self.prices.setdefault(day, price)


@dataclass(frozen=True)
class Balance:
    """The cash on a day: the sum of ``parts`` (value, currency), at the day's rates."""

    day: date
    parts: tuple[tuple[Decimal, str], ...]
    where: str


@dataclass
class PortfolioPlan:
    account_id: str | None
    name: str
    base: str
    entries: list[TransactionIn] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    balances: list[Balance] = field(default_factory=list)
    """The cash the account(s) held, oldest first."""


@dataclass
class Plan:
    portfolios: list[PortfolioPlan]
    customs: list[CustomPlan]
    not_imported: list[tuple[str, str]]


def where_of(loc: Sequence[int | str]) -> str:
    return field_path(loc) or "body"


def refuse(problems: list[tuple[str, str]]) -> ValidationFailed:
    detail = "The Ghostfolio file was not imported: " + "; ".join(f"{w}: {m}" for w, m in problems)
    return ValidationFailed(detail, errors=[field_error(w, m) for w, m in problems])


def parse(data: bytes) -> GfFile:
    try:
        raw = json.loads(data, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise refuse([("body", f"not JSON: {exc}")]) from exc
    if isinstance(raw, dict) and "activities" not in raw and "orders" in raw:
        raw["activities"] = raw.pop("orders")  # the oldest files' name for them
    try:
        return GfFile.model_validate(raw)
    except ValidationError as exc:
        raise refuse([(where_of(e["loc"]), error_message(e)) for e in exc.errors()]) from exc


ISO_DAY = re.compile(
    r"(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt](?P<time>[0-9]{2}:[0-9]{2}):(?P<second>[0-9]{2})(?:\.[0-9]+)?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2}))?"
)
"""A date of the file: RFC 3339's full-date or date-time (what Ghostfolio writes, and what the
document's ``format: date`` and ``format: date-time`` say), nothing else ISO 8601 allows. Not
a leap second (``23:59:60``), which JavaScript never writes and the validators refuse."""


def day_of(text: str) -> date:
    """An RFC 3339 date or date-time's day, in UTC (as Ghostfolio's server keeps it); a year
    0000 is the first day Python has (refused as before 1900 by the caller)."""
    match = ISO_DAY.fullmatch(text)
    if match is None:
        raise ValueError(text)
    if match["day"].startswith("0000-"):
        date.fromisoformat(f"0001{match['day'][4:]}")  # the rest of it must still be a day
        return date.min
    if match["time"] is None:
        return date.fromisoformat(match["day"])
    zone = "+00:00" if match["zone"] in "Zz" else match["zone"]
    moment = datetime.fromisoformat(f"{match['day']}T{match['time']}:{match['second']}{zone}")
    return moment.astimezone(UTC).date()


def kind_of(text: str | None) -> str:
    """A type or data source of the file, upper-cased if ASCII (as the document's patterns
    take them: Unicode's upper case also turns ``\\u017fell``, a long s, into ``SELL``)."""
    return text.upper() if text is not None and text.isascii() else (text or "")


def number_problem(value: Decimal) -> str | None:
    """Why a number of the file cannot be an amount, price or quantity, if it cannot."""
    if not value.is_finite():
        return "is not a number"
    if value.copy_abs() > MAX_AMOUNT:  # abs() would round, and overflow
        return f"must be at most {MAX_AMOUNT:,}"
    return None


def exact(value: Decimal) -> Decimal:
    """Ghostfolio's numbers are doubles: kept to Flint's 8 decimal places."""
    if not value.is_finite():
        return value
    try:
        return value.quantize(PRICE_STEP, rounding=ROUND_HALF_EVEN).normalize()
    except InvalidOperation:  # more digits than the context holds: refused as too large
        return value


def asset_class(profile: GfAssetProfile | None) -> str:
    if profile is None:
        return "other"
    return SUB_CLASSES.get(profile.asset_sub_class or "") or CLASSES.get(
        profile.asset_class or "", "other"
    )


def _candidate(gf_symbol: str, name: str | None) -> str:
    """A Flint custom symbol for a MANUAL symbol: Flint's own export's (``GF_MY_HOUSE``) back
    as ``MY:HOUSE``; else ``GF:`` and the asset's name (or the symbol), as symbol characters."""
    own = FLINT_MANUAL.fullmatch(gf_symbol.upper())
    if own and CUSTOM_SYMBOL_PATTERN.fullmatch(f"{own[1]}:{own[2]}"):
        return f"{own[1]}:{own[2]}"
    stem = re.sub(r"[^A-Z0-9._\-]+", "-", (name or gf_symbol).upper()).strip("-._")
    return "GF:" + (stem[:20].rstrip("-._") or "ASSET")


def custom_symbol(gf_symbol: str, name: str | None, taken: set[str]) -> str:
    """The candidate, with ``-2``, ``-3``... when another asset has it."""
    base = _candidate(gf_symbol, name)
    symbol, n = base, 1
    while symbol in taken:
        n += 1
        suffix = f"-{n}"
        namespace, stem = base.split(":", 1)
        symbol = f"{namespace}:{stem[: 23 - len(suffix)]}{suffix}"
    return symbol


UNLISTED = (
    " in the file's accounts or among your portfolios imported from Ghostfolio"
    " (?portfolios=one imports every activity into one portfolio)"
)


@dataclass
class Reader:
    """Reads one file against the market's instruments and the user's custom assets
    (``existing``: symbol to (name, currency)); ``remembered`` tells the Ghostfolio accounts
    the user's portfolios were made of by earlier imports."""

    doc: GfFile
    market: Instruments
    existing: dict[str, tuple[str, str]]
    today: date
    remembered: Callable[[str], bool] = field(default=lambda account_id: False)
    problems: list[tuple[str, str]] = field(default_factory=list)
    not_imported: list[tuple[str, str]] = field(default_factory=list)
    customs: dict[str, CustomPlan] = field(default_factory=dict)
    user_checked: bool = False

    def day(self, text: str, where: str) -> date | None:
        try:
            day = day_of(text)
        except (ValueError, OverflowError):
            self.problems.append(
                (
                    where,
                    f"{text[:40]!r} is not an ISO 8601 date (2024-01-31 or RFC 3339's "
                    "2024-01-31T09:30:00.000Z)",
                )
            )
            return None
        wrong = date_problem(day, self.today)
        if wrong is not None:
            self.problems.append((where, wrong))
            return None
        return day

    def manual_prices(self) -> dict[str, dict[date, Decimal]]:
        """The prices of every MANUAL asset profile (Ghostfolio's custom assets), by symbol,
        each checked whether an activity trades it or not: a day, and a price above 0 at
        Flint's eight places (the last profile of a symbol given twice)."""
        out: dict[str, dict[date, Decimal]] = {}
        for k, profile in enumerate(self.doc.asset_profiles or ()):
            if profile.data_source != "MANUAL":
                continue
            prices = out[profile.symbol] = {}
            for j, point in enumerate(profile.market_data or ()):
                where = f"assetProfiles[{k}].marketData[{j}]"
                day = self.day(point.date, f"{where}.date")
                wrong = number_problem(point.market_price)
                if wrong is None and exact(point.market_price) <= 0:
                    wrong = "must be greater than 0 (at 8 decimal places)"
                if wrong is not None:
                    self.problems.append((f"{where}.marketPrice", wrong))
                elif day is not None:
                    prices[day] = exact(point.market_price)
        return out

    def plan_customs(self) -> None:
        profiles = {p.symbol: p for p in self.doc.asset_profiles or () if p.data_source == "MANUAL"}
        prices = self.manual_prices()
        taken = set(self.existing)
        for a in self.doc.activities:
            kind = kind_of(a.type)
            manual = kind == "ITEM" or kind_of(a.data_source) == "MANUAL"
            if kind not in ASSET_TRADES or not manual or not a.symbol:
                continue
            if a.symbol in self.customs:
                continue
            profile = profiles.get(a.symbol)
            name = (profile.name if profile else None) or a.symbol
            currency = (profile.currency if profile else None) or a.currency or "USD"
            symbol = _candidate(a.symbol, name)
            if self.existing.get(symbol) != (name[:200], currency):
                symbol = custom_symbol(a.symbol, name, taken)
            taken.add(symbol)
            given = dict(prices.get(a.symbol, {}))
            plan = CustomPlan(a.symbol, symbol, name[:200], currency, asset_class(profile), given)
            self.customs[a.symbol] = plan

    def listed(self, a: GfActivity, where: str) -> str | None:
        try:
            symbol = normalize_symbol(a.symbol or "")
        except ValueError as exc:
            self.problems.append((f"{where}.symbol", str(exc)))
            return None
        if self.market.instrument(symbol) is None:
            self.problems.append(
                (
                    f"{where}.symbol",
                    f"unknown symbol {symbol} (dataSource {a.data_source or 'none'}): "
                    "Flint's market does not list it",
                )
            )
            return None
        return symbol

    def symbol_of(self, a: GfActivity, where: str, kind: str) -> str | None:
        """The Flint symbol of an activity; None (with a problem, for an asset's trade) when
        there is none."""
        if a.symbol in self.customs:
            return self.customs[a.symbol].symbol
        if kind in ("FEE", "INTEREST") and kind_of(a.data_source or "MANUAL") == "MANUAL":
            return None  # Ghostfolio's label for a fee or interest, not an asset
        if not a.symbol:
            self.problems.append((f"{where}.symbol", "a symbol is needed"))
            return None
        return self.listed(a, where)

    def entries(self, a: GfActivity, where: str) -> list[TransactionIn]:
        kind = kind_of(a.type)
        day = self.day(a.date, f"{where}.date")
        symbol = self.symbol_of(a, where, kind)
        bad = [
            (f"{where}.{_camel(n)}", why)
            for n in ("quantity", "unit_price", "fee")
            if (why := number_problem(getattr(a, n))) is not None
        ]
        if bad:
            self.problems.extend(bad)
            return []
        if day is None or (symbol is None and kind in ASSET_TRADES):
            return []
        quantity, price, fee = exact(a.quantity), exact(a.unit_price), exact(a.fee)
        value = exact(a.quantity * a.unit_price)
        common: dict[str, Any] = {"date": day, "currency": a.currency}
        rows: list[dict[str, Any]] = []
        if kind in ("BUY", "ITEM", "SELL"):
            kind_ = "sell" if kind == "SELL" else "buy"
            rows.append(
                {"type": kind_, "symbol": symbol, "quantity": quantity, "price": price, "fee": fee}
            )
            if a.symbol in self.customs and price > 0:
                self.customs[a.symbol].trades.append((day, price, kind_ == "buy"))
        elif kind == "FEE":
            tax = is_tax(a.comment)
            rows.append({"type": "tax" if tax else "fee", "symbol": symbol, "amount": value + fee})
        else:  # DIVIDEND, INTEREST: the fee leaves the cash as a fee of its own
            rows.append({"type": kind.lower(), "symbol": symbol, "amount": value})
            if fee:
                rows.append({"type": "fee", "symbol": symbol, "amount": fee})
        out: list[TransactionIn] = []
        for row in rows:
            try:
                out.append(TransactionIn.model_validate(common | row))
            except ValidationError as exc:
                for e in exc.errors():
                    name = str(e["loc"][0]) if e["loc"] else ""
                    self.problems.append((f"{where}{_field(name, kind)}", error_message(e)))
        return out

    def exported_on(self) -> date:
        """The export's day (``meta.date``, checked whenever given), else today."""
        stamp = (self.doc.meta or {}).get("date")
        if stamp is None:
            return self.today
        if not isinstance(stamp, str):
            self.problems.append(("meta.date", "must be a date-time, as Ghostfolio writes it"))
            return self.today
        return self.day(stamp, "meta.date") or self.today

    def read(self, mode: Mode, name: str, base: str | None) -> Plan:
        accounts = list(self.doc.accounts or ())
        ids = [a.id for a in accounts]
        exported = self.exported_on()
        for k, account in enumerate(accounts):
            self.check_base(account.currency, f"accounts[{k}].currency")
            if account.id is not None and ids.count(account.id) > 1:
                self.problems.append((f"accounts[{k}].id", f"{account.id} is given twice"))
            if account.balance is not None and (wrong := number_problem(account.balance)):
                self.problems.append((f"accounts[{k}].balance", wrong))
        self.plan_customs()
        plans: dict[str | None, PortfolioPlan] = {}
        if mode == "one":
            currency = (
                base or self._user_currency() or (accounts[0].currency if accounts else "USD")
            )
            plans[None] = PortfolioPlan(None, name, currency)
        else:
            for account in accounts:
                title = account.name.strip()[:200] or "Ghostfolio account"
                plans[account.id] = PortfolioPlan(account.id, title, account.currency)
        history = [self.balances(account, k, exported) for k, account in enumerate(accounts)]
        if mode == "one":
            lasts = [h[-1] for h in history if h]
            if lasts:
                day = max(b.day for b in lasts)
                parts = tuple(part for b in lasts for part in b.parts)
                plans[None].balances.append(Balance(day, parts, "accounts"))
        else:
            for account, own in zip(accounts, history, strict=True):
                plans[account.id].balances.extend(own)
        for i, a in enumerate(self.doc.activities):
            where = f"activities[{i}]"
            kind = kind_of(a.type)
            if kind not in TYPES:
                self.problems.append((f"{where}.type", f"{a.type!r} is not a Ghostfolio type"))
                continue
            if kind == "LIABILITY":
                self.not_imported.append(
                    (where, "a LIABILITY (a debt) has no place in a Flint ledger: not imported")
                )
                continue
            key = None if mode == "one" else a.account_id
            if key is not None and key not in ids:
                # An account of the user's in Ghostfolio that the file does not list, as a
                # converter's file (Export-To-Ghostfolio) names it: the portfolio made of it
                # by an earlier import (its name and currency are that portfolio's).
                if not self.remembered(key):
                    self.problems.append((f"{where}.accountId", f"no account {key}{UNLISTED}"))
                    continue
                plans.setdefault(key, PortfolioPlan(key, "Ghostfolio account", "USD"))
            if key not in plans:
                currency = self._user_currency() or "USD"
                plans[key] = PortfolioPlan(None, f"{name} (no account)", currency)
            entries = self.entries(a, where)
            plans[key].entries.extend(entries)
            plans[key].labels.extend([where] * len(entries))
        if self.problems:
            raise refuse(self.problems)
        for custom in self.customs.values():
            custom.settle_prices()
        self._report_unused()
        return Plan(list(plans.values()), list(self.customs.values()), self.not_imported)

    def balances(self, account: GfAccount, k: int, exported: date) -> list[Balance]:
        """The account's balance history (older files: its one balance, on the export's day)."""
        out: list[Balance] = []
        if account.balances:
            for j, b in enumerate(account.balances):
                where = f"accounts[{k}].balances[{j}]"
                day = self.day(b.date, f"{where}.date")
                wrong = number_problem(b.value)
                if wrong is not None:
                    self.problems.append((f"{where}.value", wrong))
                elif day is not None:
                    out.append(Balance(day, ((exact(b.value), account.currency),), where))
        elif account.balance is not None and number_problem(account.balance) is None:
            parts = ((exact(account.balance), account.currency),)
            out.append(Balance(exported, parts, f"accounts[{k}].balance"))
        return sorted(out, key=lambda b: b.day)

    def check_base(self, currency: str, where: str) -> None:
        if not BASE.fullmatch(currency) or not currencies.is_base(self.market, currency):
            self.problems.append((where, f"{currency[:10]!r} cannot be a base currency"))

    def _user_currency(self) -> str | None:
        """The file's user currency (checked once read, as it may be a portfolio's base)."""
        settings = (self.doc.user or {}).get("settings")
        currency = settings.get("currency") if isinstance(settings, dict) else None
        if not isinstance(currency, str) or not currency:
            return None
        if not self.user_checked:
            self.user_checked = True
            self.check_base(currency, "user.settings.currency")
        return currency

    def _report_unused(self) -> None:
        if self.doc.tags:
            names = ", ".join(str(t.get("name")) for t in self.doc.tags)
            self.not_imported.append(("tags", f"Flint has no tags: {names} not imported"))
        if self.doc.platforms:
            names = ", ".join(str(p.get("name")) for p in self.doc.platforms)
            self.not_imported.append(("platforms", f"Flint has no platforms: {names}"))
        comments = [a for a in self.doc.activities if a.comment and not is_tax(a.comment)]
        if comments:
            self.not_imported.append(
                ("activities[].comment", f"{len(comments)} comment(s): Flint's ledger has none")
            )


def is_tax(comment: str | None) -> bool:
    return (comment or "").strip().lower() == TAX_MARK


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _field(name: str, kind: str) -> str:
    """Flint's field of a refused row as the file's field."""
    mapping = {"price": "unitPrice", "amount": "fee" if kind == "FEE" else "unitPrice"}
    return "." + mapping.get(name, name) if name else ""
