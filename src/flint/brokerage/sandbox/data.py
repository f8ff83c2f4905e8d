"""What a sandbox link code opens: parsing the code and generating its accounts.

Everything here is a pure function of the code and the day the link is made: the random
generator is seeded with the SHA-256 of the code, so the same code always gives the same
accounts, positions and a year of the same transactions (in any database, on any machine).

Code syntax: any non-empty text (at most `MAX_CODE_LENGTH` characters, surrounding whitespace
ignored). A ``:``-separated part ``cash-<amount>`` (or ``cash=<amount>``) sets the brokerage
account's cash: ``cash-25000``, ``alice:cash-2500.50``, ``bob:cash=0`` (at most 2 decimals,
no thousands separators); it is $100,000.00 otherwise. Codes that start with ``refuse`` (any
case) are refused, so a refusal can be tried on purpose.

Reconciliation: every account's first transaction is its ``Opening balance`` deposit, so an
account's balance (a brokerage's cash) always equals the sum of its transactions' amounts, and
each position equals its bought minus its sold quantities.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

CENT = Decimal("0.01")
DEFAULT_CASH = Decimal("100000.00")
MAX_CASH = Decimal("1000000000000")
MAX_CODE_LENGTH = 200
REFUSE_PREFIX = "refuse"
_CASH = re.compile(r"cash[-=](.*)", re.IGNORECASE)


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


def parse_code(raw: str) -> LinkCode:
    """Check a code and read its options; `CodeRefused` says why one is turned down."""
    code = raw.strip()
    if not code:
        raise CodeRefused("the code is empty")
    if len(code) > MAX_CODE_LENGTH:
        raise CodeRefused(f"the code is longer than {MAX_CODE_LENGTH} characters")
    if code.lower().startswith(REFUSE_PREFIX):
        raise CodeRefused("the institution refused this code")
    cash = DEFAULT_CASH
    for part in code.split(":"):
        option = _CASH.fullmatch(part.strip())
        if option is None:
            continue
        try:
            amount = Decimal(option.group(1))
        except InvalidOperation:
            raise CodeRefused("cash-<amount> needs a number, e.g. cash-2500.50") from None
        if not amount.is_finite() or amount < 0 or amount > MAX_CASH:
            raise CodeRefused("cash must be between 0 and 1,000,000,000,000")
        if amount != money(amount):
            raise CodeRefused("cash has at most 2 decimal places")
        cash = money(amount)
    return LinkCode(code, cash)


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


def account_id(key: str, kind: str) -> str:
    return f"sbx_{key[:16]}_{kind}"


# symbol: (typical cost per unit in cents, fractional quantity step or None for whole units)
_HOLDINGS: dict[str, tuple[int, Decimal | None]] = {
    "AAPL": (15_000, None),
    "MSFT": (32_000, None),
    "VTI": (21_000, Decimal("0.001")),
    "SPY": (44_000, Decimal("0.001")),
    "NVDA": (4_500, None),
    "BTC-USD": (4_200_000, Decimal("0.00000001")),
}
_EMPLOYERS = ("Acme Corp", "Globex Inc", "Initech LLC", "Umbrella Health", "Stark Industries")
_LANDLORDS = ("Maple Street Apartments", "Riverside Properties", "Oakwood Rentals")
_CARD: dict[str, tuple[tuple[str, ...], int, int, int]] = {
    # category: (merchants, weight, min cents, max cents)
    "groceries": (("Whole Foods", "Trader Joe's", "Safeway", "Kroger"), 35, 1_800, 14_000),
    "dining": (("Chipotle", "Sweetgreen", "Local Diner", "Pizza Place"), 25, 900, 6_500),
    "coffee": (("Starbucks", "Blue Bottle Coffee"), 15, 350, 850),
    "transport": (("Uber", "Lyft", "Shell", "Chevron"), 15, 800, 6_000),
    "shopping": (("Amazon", "Target", "Best Buy", "IKEA"), 10, 1_200, 18_000),
}


class _Ledger:
    """One account's transactions in order, with its running balance."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.balance = Decimal("0.00")
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
        seq = len(self.items)
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


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)).scaleb(-2)


def _month_end(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


def generate(link: LinkCode, today: date) -> Seed:
    """The accounts a code opens, with a year of history ending ``today``."""
    key = code_key(link.code)
    rng = random.Random(int.from_bytes(bytes.fromhex(key), "big"))  # noqa: S311 - not security
    start = today - timedelta(days=364)
    ids = {kind: account_id(key, kind) for kind in ("brokerage", "checking", "savings")}
    masks = {kind: f"{rng.randint(0, 9999):04d}" for kind in ids}

    # Brokerage: an opening deposit, then the buys that made today's positions.
    brokerage = _Ledger(ids["brokerage"])
    chosen = sorted(rng.sample(sorted(_HOLDINGS), rng.randint(3, 5)), key=list(_HOLDINGS).index)
    buys: list[tuple[date, str, Decimal, Decimal, Decimal]] = []
    for symbol in chosen:
        typical, step = _HOLDINGS[symbol]
        price = _cents(rng, typical * 70 // 100, typical * 115 // 100)
        if step is None:
            quantity = Decimal(rng.randint(5, 120))
        else:
            budget = Decimal(rng.randint(2_000, 30_000))  # dollars
            quantity = (budget / price).quantize(step, rounding=ROUND_HALF_EVEN)
        day = start + timedelta(days=rng.randint(1, 180))
        buys.append((day, symbol, quantity, price, money(quantity * price)))
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

    # Checking and savings: salary, rent, bills, card spending, a monthly transfer, interest.
    checking = _Ledger(ids["checking"])
    savings = _Ledger(ids["savings"])
    employer = rng.choice(_EMPLOYERS)
    landlord = rng.choice(_LANDLORDS)
    salary = _cents(rng, 190_000, 320_000)
    rent = _cents(rng, 110_000, 210_000)
    car = _cents(rng, 25_000, 55_000)
    insurance = _cents(rng, 9_000, 22_000)
    internet = Decimal(rng.choice(("49.99", "59.99", "69.99", "79.99")))
    monthly_saving = money(Decimal(rng.randrange(300, 1201, 50)))
    apy = Decimal(rng.randint(350, 450)).scaleb(-4)
    checking.add(start, _cents(rng, 250_000, 600_000), "Opening balance", None, "deposit")
    savings.add(start, _cents(rng, 500_000, 2_500_000), "Opening balance", None, "deposit")
    payday = start + timedelta(days=(4 - start.weekday()) % 7 + 7 * rng.randint(0, 1))
    categories = list(_CARD)
    weights = [_CARD[name][1] for name in categories]
    zero = Decimal(0)

    day = start + timedelta(days=1)
    while day <= today:
        if day == payday:
            checking.add(day, salary, f"{employer} payroll", "income", "deposit")
            payday += timedelta(days=14)
        if day.day == 1:
            checking.add(day, -rent, f"{landlord} rent", "rent", "payment", floor=zero)
        if day.day == 3 and checking.add(
            day, -monthly_saving, "Transfer to savings", "transfer", "transfer", floor=zero
        ):
            savings.add(day, monthly_saving, "Transfer from checking", "transfer", "transfer")
        if day.day == 8:
            checking.add(day, -insurance, "Safe Auto Insurance", "insurance", "payment", floor=zero)
        if day.day == 15:
            checking.add(day, -car, "Auto loan payment", "loan", "payment", floor=zero)
        if day.day == 12:
            bill = _cents(rng, 5_500, 16_000)
            checking.add(day, -bill, "City Power & Light", "utilities", "payment", floor=zero)
        if day.day == 20:
            checking.add(day, -internet, "Fiber Internet Co", "utilities", "payment", floor=zero)
        if day.day == 25:
            bill = _cents(rng, 3_500, 8_500)
            checking.add(day, -bill, "Mobile Phone Co", "utilities", "payment", floor=zero)
        purchases = rng.choices((0, 1, 2), weights=(4, 4, 2) if day.weekday() >= 5 else (5, 4, 1))
        for _ in range(purchases[0]):
            category = rng.choices(categories, weights=weights)[0]
            merchants, _, low, high = _CARD[category]
            merchant = rng.choice(merchants)
            amount = _cents(rng, low, high)
            checking.add(
                day, -amount, f"Card purchase {merchant}", category, "card_payment", floor=zero
            )
        if _month_end(day):
            interest = money(savings.balance * apy / 12)
            if interest > 0:
                savings.add(day, interest, "Interest paid", "interest", "interest")
        day += timedelta(days=1)

    ledgers = {"brokerage": brokerage, "checking": checking, "savings": savings}
    names = {
        "brokerage": "Sandbox Brokerage",
        "checking": "Sandbox Checking",
        "savings": "Sandbox Savings",
    }
    accounts = [
        SeedAccount(ids[kind], kind, names[kind], masks[kind], ledgers[kind].balance)
        for kind in ("brokerage", "checking", "savings")
    ]
    history = [item for ledger in ledgers.values() for item in ledger.items]
    return Seed(key, accounts, positions, history)
