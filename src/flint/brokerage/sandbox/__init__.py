"""``sandbox``: Flint's built-in institution, a simulated bank and brokerage with its own books.

It is a real program behind the `AccountProvider` Protocol, not a mock: links, accounts,
positions, transactions and orders live in the sandbox's own database (`store`), every
operation is its own short transaction there, and orders trade at the prices Flint's
`MarketData` gives (`latest`), so what a user sees in Flint matches what a broker would do.

Linking (`data` has the details): any non-empty code links; it opens a brokerage, a
checking and a savings account generated deterministically from the code, with a year of
history ending on the link day. A ``cash-<amount>`` part in the code (``cash-25000``,
``alice:cash-2500.50``; ``cash=<amount>`` too) sets the brokerage cash ($100,000.00 otherwise);
codes starting with ``refuse`` are refused. Linking a code again gives the same accounts (the
existing ones, never duplicates). The credentials are ``{"code": <code>}``; every call checks
that they own the account (else `AccountGone`).

Trading (the brokerage account only; no margin, no fees, no partial fills):

* Cash moves by ``money(quantity * price)``: the product rounded to the cent, half-even. A buy
  takes that much cash, a sale gives that much; a fill's transaction carries the same amount,
  so cash always equals the sum of the account's transactions. A sale lowers the cost basis
  by ``money(basis * sold / held)`` (all of it when the position is closed).
* Quantities are positive with at most 8 decimals (fractional shares and crypto alike).
  Equities, ETFs, funds and crypto quoted in the account's currency trade; indices, FX and
  unknown symbols are rejected. A buy must cost at least $0.01.
* Market orders fill at once at the current price. Limit, stop and stop-limit orders rest as
  ``submitted`` and are evaluated whenever they are read (`get_order`, `find_order`, placing the
  same ``client_order_id`` again) or `match_open_orders` runs: a buy limit fills when the price
  is at or below the limit, a sell limit at or above (at the current price); a buy stop
  triggers at or above its stop, a sell stop at or below, and then fills like a market order
  (stop) or becomes a limit order (stop-limit). A resting order that cannot be paid for (or
  sold) when it would fill is rejected with the reason.
* Placement checks buying power (at the limit price for limit orders, the current price
  otherwise) and the position for sales; a refusal raises `OrderRejected` and records nothing.
  ``ioc``/``fok`` orders that cannot fill at once are canceled; ``day`` orders expire once the
  New York date they were placed on has passed; ``gtc`` orders stay until filled or canceled.
* ``client_order_id`` is unique per account: placing it again returns the existing order.
* Previews (`estimates`) follow the same rules without writing: the same refusals, the
  estimate at the limit (limit orders), the stop (stop orders) or the current price, no
  commission, the cash left after the fill, and warnings for an order that would not fill at
  once.
* Balances: a bank account's ``current`` and ``available`` are its ledger balance; a
  brokerage's ``cash``, ``available`` and ``buying_power`` are its cash and ``current`` is
  cash plus each position's ``money(quantity * price)`` at the current prices.
* Concurrency: a fill's cash, position, order and transaction change in one transaction that
  first locks the account (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on
  PostgreSQL), so concurrent orders can never spend the same cash twice.
"""

from flint.brokerage.sandbox.provider import SandboxProvider

__all__ = ["SandboxProvider"]
