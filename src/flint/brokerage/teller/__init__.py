"""``teller``: bank accounts (checking, savings, credit cards) through Teller's API.

Auth is two-part: every connection uses mutual TLS with the application's client certificate
and key (from Teller's dashboard), and every request carries the enrollment's access token (what
Teller Connect hands the user's browser) as the HTTP Basic username with an empty password. The
API version is pinned with the ``Teller-Version`` header. The access token is a secret: it lives
only in the link's credentials and the ``Authorization`` header, never in a log, an error or a
URL.

Mapping and conventions:

* Accounts: ``depository``/``checking`` is CHECKING, every other depository subtype (savings,
  money_market, certificate_of_deposit, treasury, sweep) SAVINGS, ``credit`` CREDIT; an
  account of a type Teller may add later is left out (and logged, by id). ``mask`` is
  ``last_four``, ``institution`` the institution's name, ``currency`` upper-cased. Only
  ``open`` accounts are returned (by `link` and `accounts`): a ``closed`` one has nothing left
  to sync. `link` refuses an enrollment without any open account.
* Balances: ``current`` is Teller's ``ledger``, ``available`` its ``available``, both Decimals
  of Teller's decimal strings. Either may be null (Teller promises at least one); a depository
  account without a ledger reports ``available`` as ``current``. For a credit card Teller's
  ledger is the outstanding balance, positive when money is owed, which is already Flint's
  convention ("what is owed, positive"), so it is passed through; ``available`` is the credit
  still available. A credit card without a ledger is garbage (what is owed is unknown).
* Transactions: Teller's ``amount`` is a signed decimal string. For depository accounts it is
  already from the holder's side (spend negative, deposits positive) and is kept. For credit
  accounts Teller signs from the card issuer's side (a purchase is positive, a payment to the
  card negative), so the sign is flipped to Flint's convention (spend negative). ``status`` is
  ``posted``/``pending``, ``category`` is Teller's enrichment category (``details.category``,
  may be null), ``type`` Teller's kind (card_payment, atm, transfer, deposit, ...).
  `transactions` pages with ``count`` (:data:`PAGE_SIZE`) and ``from_id`` (the oldest id of
  the previous page) until an empty page (Teller may answer fewer than ``count``, so a short
  page is not the end), and stops early once a page reaches dates before ``since``; the result
  is newest first. A page that repeats ids (should ``from_id`` ever be
  inclusive) is de-duplicated.
* Slow first calls: Teller warns that the first transactions call after enrollment can time
  out while the bank's data loads, and to retry after a few seconds. Every GET goes through
  `VendorClient`'s retries (timeouts, 5xx, 429); the default policy waits seconds between
  attempts, and a policy of one attempt is given a second.
* Failures: a 401/403 (no, invalid or revoked token) or 404 (unknown account, or a
  disconnected enrollment such as ``enrollment.disconnected.user_action.mfa_required``) is
  `LinkRefused` from `link` and `AccountGone` elsewhere, with Teller's error message as the
  reason; 410 (account closed) is `AccountGone` too. Bodies that are not JSON or miss required
  fields are `ProviderGarbage`. Teller's HTTP 400 ``bad_request`` "Missing certificate" (the
  client certificate did not arrive) is `ProviderMisconfigured`, not retried, logged as
  ``vendor_misconfigured`` and named by `/readyz` (``teller``) until Teller accepts a request
  again. A certificate the TLS handshake refuses (one Teller did not issue) is indistinguishable
  from a dropped connection under TLS 1.3 and stays `ProviderUnavailable` after the retries.
* Not offered: holdings, trading and a hosted portal (Teller Connect runs in the user's
  browser and hands back the access token, which is what `link` takes); those raise
  `Unsupported`. `register` returns ``{}``.

The package: ``client`` holds the wire (mutual TLS, ``Teller-Version``, the token as Basic
auth, Teller's error answers), ``mapping`` turns Teller's JSON into Flint's types by the rules
above, and ``provider`` is the `AccountProvider` flow (linking, paging, what is not offered).
"""

from flint.brokerage.teller.client import DEFAULT_POLICY
from flint.brokerage.teller.provider import PAGE_SIZE, TellerProvider

__all__ = ["DEFAULT_POLICY", "PAGE_SIZE", "TellerProvider"]
