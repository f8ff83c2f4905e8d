"""The sandbox's living bank accounts: a checking and a savings account whose history keeps
growing day by day, deterministic from the link code and the date.

Each link has a `Profile` drawn once from its key (employer, landlord, salary, bills, the
monthly saving, the savings rate, the payday cycle). Each day's events are drawn from a
generator seeded with the key and the date, in this order: the salary (every other Friday of
the profile's cycle), the day's bills (rent on the 1st, the transfer to savings on the 3rd,
insurance on the 8th, power on the 12th, the car loan on the 15th, internet on the 20th, the
phone on the 25th), card purchases, and at the month's end the sweep of checking above twice
the reserve (below) to savings and the savings interest. A day's
events depend only on the key, the date and the two balances the day starts with, so a sync
that generates the days since the last one brings exactly what a link made earlier would have
shown (`advance`).

Checking never goes below zero, by construction:

* the ``reserve`` is a month of every bill at its highest amount (the saving transfer
  included); the salary is at least the reserve, and checking opens with more than it;
* a card purchase is declined (and not recorded) when it would take checking below the
  reserve, and the month-end sweep leaves twice the reserve;
* between two paydays each monthly bill falls at most once (14 days < the shortest month),
  so the bills of a pay period add up to at most the reserve. Hence checking never falls
  below ``reserve - bills paid since the last payday`` ≥ 0, and each payday lifts it back to
  at least the reserve: every bill and every transfer is always covered.

Savings only receives (transfers and interest), so it never goes below zero either.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flint.brokerage.sandbox.data import Ledger, money

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
_CATEGORIES = list(_CARD)
_WEIGHTS = [_CARD[name][1] for name in _CATEGORIES]
_POWER = (5_500, 16_000)  # cents, drawn each month
_PHONE = (3_500, 8_500)
_PAYDAY_EPOCH = date(2024, 1, 5)  # a Friday; each profile is paid on one of the two cycles
HISTORY_DAYS = 364


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)).scaleb(-2)


@dataclass(frozen=True)
class Profile:
    employer: str
    landlord: str
    salary: Decimal
    rent: Decimal
    car: Decimal
    insurance: Decimal
    internet: Decimal
    saving: Decimal
    apy: Decimal
    cycle: int  # 0 or 1: which alternate Friday is payday

    @property
    def reserve(self) -> Decimal:
        """A month of every bill at its highest, the saving transfer included."""
        highest = Decimal(_POWER[1] + _PHONE[1]).scaleb(-2)
        return self.rent + self.car + self.insurance + self.internet + self.saving + highest

    def payday(self, day: date) -> bool:
        return (day - _PAYDAY_EPOCH).days % 14 == 7 * self.cycle


def profile(key: str) -> Profile:
    """The link's bank profile, drawn from its key (the SHA-256 of the code)."""
    rng = random.Random(f"{key}:bank")  # noqa: S311 - not security
    rent = _cents(rng, 110_000, 210_000)
    car = _cents(rng, 25_000, 55_000)
    insurance = _cents(rng, 9_000, 22_000)
    internet = Decimal(rng.choice(("49.99", "59.99", "69.99", "79.99")))
    saving = money(Decimal(rng.randrange(300, 1201, 50)))
    drawn = _cents(rng, 190_000, 320_000)
    partial = Profile(
        employer=rng.choice(_EMPLOYERS),
        landlord=rng.choice(_LANDLORDS),
        salary=drawn,
        rent=rent,
        car=car,
        insurance=insurance,
        internet=internet,
        saving=saving,
        apy=Decimal(rng.randint(350, 450)).scaleb(-4),
        cycle=rng.randint(0, 1),
    )
    floor = (partial.reserve + 100).quantize(Decimal(100))  # the salary covers a month of bills
    return Profile(**{**partial.__dict__, "salary": max(drawn, floor)})


def opening_balances(key: str, reserve: Decimal) -> tuple[Decimal, Decimal]:
    """Checking (above the reserve) and savings, on the first day of the history."""
    rng = random.Random(f"{key}:opening")  # noqa: S311 - not security
    return reserve + _cents(rng, 50_000, 350_000), _cents(rng, 500_000, 2_500_000)


def _month_end(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


def _day(key: str, who: Profile, checking: Ledger, savings: Ledger, day: date) -> None:
    """Append ``day``'s events to the two ledgers (see the module docstring)."""
    rng = random.Random(f"{key}:{day.isoformat()}")  # noqa: S311 - not security
    zero = Decimal(0)
    if who.payday(day):
        checking.add(day, who.salary, f"{who.employer} payroll", "income", "deposit")
    bills: dict[int, tuple[Decimal, str, str]] = {
        1: (who.rent, f"{who.landlord} rent", "rent"),
        8: (who.insurance, "Safe Auto Insurance", "insurance"),
        12: (_cents(rng, *_POWER), "City Power & Light", "utilities"),
        15: (who.car, "Auto loan payment", "loan"),
        20: (who.internet, "Fiber Internet Co", "utilities"),
        25: (_cents(rng, *_PHONE), "Mobile Phone Co", "utilities"),
    }
    if day.day == 3 and checking.add(
        day, -who.saving, "Transfer to savings", "transfer", "transfer", floor=zero
    ):
        savings.add(day, who.saving, "Transfer from checking", "transfer", "transfer")
    if day.day in bills:
        amount, payee, category = bills[day.day]
        checking.add(day, -amount, payee, category, "payment", floor=zero)
    weights = (3, 4, 3) if day.weekday() >= 5 else (4, 4, 2)
    for _ in range(rng.choices((0, 1, 2), weights=weights)[0]):
        category = rng.choices(_CATEGORIES, weights=_WEIGHTS)[0]
        merchants, _, low, high = _CARD[category]
        merchant = rng.choice(merchants)
        amount = _cents(rng, low, high)
        checking.add(
            day,
            -amount,
            f"Card purchase {merchant}",
            category,
            "card_payment",
            floor=who.reserve,  # declined rather than eat into the bills' money
        )
    if _month_end(day):
        excess = checking.balance - 2 * who.reserve
        if excess > 0 and checking.add(
            day, -excess, "Sweep to savings", "transfer", "transfer", floor=who.reserve
        ):
            savings.add(day, excess, "Sweep from checking", "transfer", "transfer")
        interest = money(savings.balance * who.apy / 12)
        if interest > 0:
            savings.add(day, interest, "Interest paid", "interest", "interest")


def advance(key: str, checking: Ledger, savings: Ledger, first: date, last: date) -> None:
    """Append the events of the days ``first`` to ``last`` (inclusive) to the ledgers, which
    hold the balances the day before ``first`` ended with."""
    who = profile(key)
    day = first
    while day <= last:
        _day(key, who, checking, savings, day)
        day += timedelta(days=1)


def opened(key: str, checking_id: str, savings_id: str, today: date) -> tuple[Ledger, Ledger]:
    """The two accounts a link opens ``today``: their opening deposits on the day a year
    before, then every day since, through ``today``."""
    start = today - timedelta(days=HISTORY_DAYS)
    who = profile(key)
    checking, savings = Ledger(checking_id), Ledger(savings_id)
    first_checking, first_savings = opening_balances(key, who.reserve)
    checking.add(start, first_checking, "Opening balance", None, "deposit")
    savings.add(start, first_savings, "Opening balance", None, "deposit")
    advance(key, checking, savings, start + timedelta(days=1), today)
    return checking, savings
