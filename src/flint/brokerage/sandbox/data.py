"""What a sandbox link code opens: parsing the code and generating its accounts.

Everything here is a pure function of the code, the day the link is made and the market's
history: the random generators are seeded with the SHA-256 of the code, so the same code always
gives the same accounts and positions (in any database, on any machine). The starting positions
are planned here (`plan_holdings`: which symbols, on which days, for how much money) and bought
at the closes the market's own history gives for those days (`Fill`, from `pricing`), so a
fresh link's gains and losses are the market's. The bank accounts' history is `bank`'s.

Code syntax: any non-empty text (at most `MAX_CODE_LENGTH` characters, surrounding whitespace
ignored). A ``:``-separated part ``cash-<amount>`` (or ``cash=<amount>``) sets the brokerage
account's cash: ``cash-25000``, ``alice:cash-2500.50``, ``bob:cash=0`` (at most 2 decimals,
no thousands separators); it is $100,000.00 otherwise. Three more parts set the brokerage's
terms (`Terms`): ``fees-<amount>`` a commission per order in dollars (``fees-1``,
``fees=0.99``; none otherwise), ``partial`` orders that fill in two parts, ``always-open`` a
market that never closes (orders trade at any hour). Codes that start with ``refuse`` (any
case) are refused, so a refusal can be tried on purpose.

Reconciliation: every account's first transaction is its ``Opening balance`` deposit, so an
account's balance (a brokerage's cash) always equals the sum of its transactions' amounts, and
each position equals its bought minus its sold quantities.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
DEFAULT_CASH = Decimal("100000.00")
MAX_CASH = Decimal("1000000000000")
MAX_CODE_LENGTH = 200
REFUSE_PREFIX = "refuse"
MAX_COMMISSION = Decimal(1000)
_CASH = re.compile(r"cash[-=](.*)", re.IGNORECASE)
_FEES = re.compile(r"fees[-=](.*)", re.IGNORECASE)


class CodeRefused(ValueError):
    """The code cannot be linked; the message is safe to show."""


def money(value: Decimal) -> Decimal:
    """The one rounding rule for cash: to the cent, half-even (banker's rounding)."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def code_key(code: str) -> str:
    """The link's key: the SHA-256 of the code, hex (the code itself is never stored)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LinkCode:
    code: str
    cash: Decimal
    commission: Decimal = Decimal("0.00")
    partial: bool = False
    always_open: bool = False


def _amount(text: str, what: str, example: str, most: Decimal) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise CodeRefused(f"{what}-<amount> needs a number, e.g. {example}") from None
    if not amount.is_finite() or amount < 0 or amount > most:
        raise CodeRefused(f"{what} must be between 0 and {most:,}")
    if amount != money(amount):
        raise CodeRefused(f"{what} has at most 2 decimal places")
    return money(amount)


def parse_code(raw: str) -> LinkCode:
    """Check a code and read its options; `CodeRefused` says why one is turned down."""
    code = raw.strip()
    if not code:
        raise CodeRefused("the code is empty")
    if len(code) > MAX_CODE_LENGTH:
        raise CodeRefused(f"the code is longer than {MAX_CODE_LENGTH} characters")
    if code.lower().startswith(REFUSE_PREFIX):
        raise CodeRefused("the institution refused this code")
    options: dict[str, Any] = {"cash": DEFAULT_CASH}
    for part in (piece.strip() for piece in code.split(":")):
        if option := _CASH.fullmatch(part):
            options["cash"] = _amount(option.group(1), "cash", "cash-2500.50", MAX_CASH)
        elif option := _FEES.fullmatch(part):
            options["commission"] = _amount(option.group(1), "fees", "fees-1", MAX_COMMISSION)
        elif part.lower() == "partial":
            options["partial"] = True
        elif part.lower() == "always-open":
            options["always_open"] = True
    return LinkCode(code, **options)


# --- generated data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedAccount:
    id: str
    kind: str
    name: str
    mask: str
    balance: Decimal


@dataclass(frozen=True)
class SeedPosition:
    account_id: str
    symbol: str
    quantity: Decimal
    cost_basis: Decimal


@dataclass(frozen=True)
class SeedTransaction:
    id: str
    account_id: str
    seq: int
    date: date
    amount: Decimal
    description: str
    category: str | None
    type: str
    symbol: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True)
class Seed:
    key: str
    accounts: list[SeedAccount]
    positions: list[SeedPosition]
    transactions: list[SeedTransaction]


KINDS = ("brokerage", "checking", "savings")


def account_id(key: str, kind: str) -> str:
    return f"sbx_{key[:16]}_{kind}"


HOLDINGS = ("AAPL", "MSFT", "VTI", "SPY", "NVDA", "BTC-USD")
"""The symbols a link's brokerage may start with (3 to 5 of them)."""


@dataclass(frozen=True)
class PlannedBuy:
    """A starting position's purchase before it is priced: the day and the money spent."""

    symbol: str
    day: date
    budget: Decimal


@dataclass(frozen=True)
class Fill:
    """What the market's history gave a planned buy: the session it traded in, its close,
    and the instrument's quantity step (1 for whole shares)."""

    day: date
    price: Decimal
    step: Decimal


def plan_holdings(link: LinkCode, today: date) -> list[PlannedBuy]:
    """The purchases behind a link's starting positions: 3 to 5 of `HOLDINGS`, each bought
    for $2,000 to $30,000 on a day between 11 and 6 months before ``today``."""
    rng = random.Random(f"{code_key(link.code)}:holdings")  # noqa: S311 - not security
    start = today - timedelta(days=364)
    chosen = sorted(rng.sample(HOLDINGS, rng.randint(3, 5)), key=HOLDINGS.index)
    return [
        PlannedBuy(
            symbol,
            start + timedelta(days=rng.randint(15, 180)),
            Decimal(rng.randint(2_000, 30_000)),
        )
        for symbol in chosen
    ]


class Ledger:
    """One account's new transactions in order, with its running balance: from ``balance``
    after ``seq`` transactions already written (a fresh account: none)."""

    def __init__(self, account: str, balance: Decimal = Decimal("0.00"), seq: int = -1) -> None:
        self.account = account
        self.balance = balance
        self.first_seq = seq + 1
        self.items: list[SeedTransaction] = []

    def add(
        self,
        day: date,
        amount: Decimal,
        description: str,
        category: str | None,
        kind: str,
        *,
        floor: Decimal | None = None,
        symbol: str | None = None,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> bool:
        """Append unless it would take the balance below ``floor`` (None: no floor)."""
        if floor is not None and self.balance + amount < floor:
            return False
        seq = self.first_seq + len(self.items)
        self.items.append(
            SeedTransaction(
                f"{self.account}_t{seq:05d}",
                self.account,
                seq,
                day,
                amount,
                description,
                category,
                kind,
                symbol,
                quantity,
                price,
            )
        )
        self.balance += amount
        return True


def generate(
    link: LinkCode, today: date, fills: Mapping[str, Fill], bank: tuple[Ledger, Ledger]
) -> Seed:
    """The accounts a code opens ``today``: the brokerage with the `plan_holdings` bought at
    ``fills`` (a symbol without one is left out), and the bank's ``(checking, savings)``."""
    key = code_key(link.code)
    rng = random.Random(f"{key}:masks")  # noqa: S311 - not security
    masks = {kind: f"{rng.randint(0, 9999):04d}" for kind in KINDS}
    start = today - timedelta(days=364)
    ids = {kind: account_id(key, kind) for kind in KINDS}

    # Brokerage: an opening deposit, then the buys that made today's positions.
    brokerage = Ledger(ids["brokerage"])
    buys: list[tuple[date, str, Decimal, Decimal, Decimal]] = []
    for planned in plan_holdings(link, today):
        fill = fills.get(planned.symbol)
        if fill is None:
            continue
        quantity = max(
            (planned.budget / fill.price).quantize(fill.step, rounding=ROUND_DOWN), fill.step
        )
        buys.append((fill.day, planned.symbol, quantity, fill.price, money(quantity * fill.price)))
    buys.sort()
    brokerage.add(
        start, link.cash + sum((b[4] for b in buys), Decimal(0)), "Opening balance", None, "deposit"
    )
    for day, symbol, quantity, price, cost in buys:
        brokerage.add(
            day,
            -cost,
            f"Bought {quantity} {symbol} @ {price}",
            "investment",
            "buy",
            symbol=symbol,
            quantity=quantity,
            price=price,
        )
    positions = [
        SeedPosition(ids["brokerage"], symbol, quantity, cost)
        for _, symbol, quantity, _, cost in buys
    ]
    checking, savings = bank

    ledgers = {"brokerage": brokerage, "checking": checking, "savings": savings}
    names = {
        "brokerage": "Sandbox Brokerage",
        "checking": "Sandbox Checking",
        "savings": "Sandbox Savings",
    }
    accounts = [
        SeedAccount(ids[kind], kind, names[kind], masks[kind], ledgers[kind].balance)
        for kind in KINDS
    ]
    history = [item for ledger in ledgers.values() for item in ledger.items]
    return Seed(key, accounts, positions, history)
