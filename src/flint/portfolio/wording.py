"""What the portfolio's response fields say they are (their descriptions in the documents):
money, prices, units and ratios, each written one way everywhere."""

MONEY = (
    "Money in the base currency: a decimal string rounded (half even) to the currency's minor "
    "unit, computed from the exact ledger."
)
PRICE = (
    "A price per unit in the base currency: a decimal string with the precision of the price "
    "(a worked-out one, such as a converted close or an average cost, keeps at most 8 places)."
)
UNITS = "Units (a split's ratio): a decimal string, exact."
AS_GIVEN = "As given (in the currency given with it): a decimal string, exact."
RATIO = "A ratio or return: a JSON number at full precision, not rounded."
SCALED = (
    RATIO + " Scaled to a year by the square root of 252 periods, as is usual, over any "
    "window (a scale, not a compounding: unlike `annualizedReturn` it is given for short "
    "windows too); null with fewer than 2 returns."
)
