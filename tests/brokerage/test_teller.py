"""TellerProvider against the local Teller stub, over real sockets and mutual TLS.

The stub is served over TLS that requires a client certificate signed by a throwaway test CA
(``tests.stubs.tls``); the adapter presents the CA-signed client certificate and trusts only the
test CA. The stub's data: the sample enrollment (credit card, savings, a 600-transaction
checking account, a closed account) and a second enrollment for unlink tests.
"""

from __future__ import annotations

import base64
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
import structlog

from flint.app.ops import vendor_checks
from flint.brokerage.teller import DEFAULT_POLICY, PAGE_SIZE, TellerProvider
from flint.brokerage.types import (
    AccountGone,
    AccountType,
    Balances,
    Capability,
    LinkRefused,
    OrderAction,
    OrderRequest,
    ProviderAccount,
    Transaction,
    Unsupported,
)
from flint.config import Settings
from flint.kit.http import VendorClient, VendorPolicy
from flint.kit.vendor_errors import ProviderGarbage, ProviderThrottled, ProviderUnavailable
from flint.kit.vendor_status import ProviderMisconfigured
from tests.stubs import teller as stub_data
from tests.stubs.fixtures import Closing, closing
from tests.stubs.server import HOLD, RunningStub, ServerTLS, run_stub
from tests.stubs.teller import (
    CHECKING_ID,
    CHECKING_NEWEST,
    CHECKING_TRANSACTIONS,
    CLOSED_ID,
    CREDIT_ID,
    ENROLLMENT,
    SAVINGS_ID,
    TOKEN,
    UNLINK_ENROLLMENT,
    UNLINK_IDS,
    UNLINK_TOKEN,
    TellerControl,
    create_app,
)
from tests.stubs.tls import CertificateSet, make_certificates

__all__ = ["closing"]

FAST = VendorPolicy(
    connect_timeout=2.0,
    read_timeout=0.5,
    attempts=3,
    backoff_initial=0.01,
    backoff_max=0.05,
    retry_after_cap=5.0,
    breaker_threshold=1000,
    breaker_recovery=30.0,
)
CREDS = {"accessToken": TOKEN, "enrollmentId": ENROLLMENT}
INSTITUTION = "Security Credit Union"
CHECKING_LIST = stub_data.TRANSACTIONS[CHECKING_ID]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateSet:
    return make_certificates(tmp_path_factory.mktemp("teller-tls"))


@pytest.fixture(scope="module")
def stub(certs: CertificateSet) -> Iterator[RunningStub]:
    tls = ServerTLS(
        certs.server_cert, certs.server_key, client_ca=certs.ca, client_cert_optional=True
    )
    with run_stub(create_app(), tls=tls) as running:
        yield running


@pytest.fixture
def control(stub: RunningStub) -> Iterator[TellerControl]:
    stub.control.reset()
    yield cast(TellerControl, stub.control)
    stub.control.release()


@pytest.fixture
def build(
    stub: RunningStub, control: TellerControl, certs: CertificateSet, closing: Closing
) -> Callable[..., TellerProvider]:
    def make(**overrides: Any) -> TellerProvider:
        options: dict[str, Any] = {
            "certificate": certs.client_cert,
            "private_key": certs.client_key,
            "base_url": stub.url,
            "ca_bundle": certs.ca,
            "policy": FAST,
        }
        options.update(overrides)
        return closing(TellerProvider(**options))

    return make


@pytest.fixture
def teller(build: Callable[..., TellerProvider]) -> TellerProvider:
    return build()


def transaction_requests(control: TellerControl, account_id: str) -> list[dict[str, str]]:
    path = f"/accounts/{account_id}/transactions"
    return [seen.params for seen in control.requests if seen.path == path]


# --- linking ----------------------------------------------------------------------------------


async def test_link_with_a_good_token_returns_the_open_accounts_mapped(
    teller: TellerProvider, control: TellerControl
) -> None:
    link = await teller.link({}, TOKEN)

    assert link.credentials == {"accessToken": TOKEN, "enrollmentId": ENROLLMENT}
    assert link.accounts == [
        ProviderAccount(
            id=CREDIT_ID,
            name="Platinum Card",
            type=AccountType.CREDIT,
            currency="USD",
            institution=INSTITUTION,
            mask="7857",
        ),
        ProviderAccount(
            id=SAVINGS_ID,
            name="Essential Savings",
            type=AccountType.SAVINGS,
            currency="USD",
            institution=INSTITUTION,
            mask="3528",
        ),
        ProviderAccount(
            id=CHECKING_ID,
            name="Everyday Checking",
            type=AccountType.CHECKING,
            currency="USD",
            institution=INSTITUTION,
            mask="0416",
        ),
    ]
    assert CLOSED_ID not in {a.id for a in link.accounts}  # closed at the bank: left out
    assert [seen.path for seen in control.requests] == ["/accounts"]


async def test_link_with_an_unknown_token_is_refused_with_tellers_message(
    teller: TellerProvider,
) -> None:
    with pytest.raises(LinkRefused) as refused:
        await teller.link({}, "test_token_nobody")
    assert refused.value.provider == "teller"
    assert refused.value.reason == "Authorization token is invalid"


async def test_link_of_a_disconnected_enrollment_is_refused_with_tellers_message(
    teller: TellerProvider, control: TellerControl
) -> None:
    control.set("disconnected")
    with pytest.raises(LinkRefused) as refused:
        await teller.link({}, TOKEN)
    assert refused.value.reason == "User MFA is required."


async def test_accounts_lists_the_open_accounts_of_the_link(teller: TellerProvider) -> None:
    accounts = await teller.accounts({}, CREDS)
    assert [(a.id, a.type) for a in accounts] == [
        (CREDIT_ID, AccountType.CREDIT),
        (SAVINGS_ID, AccountType.SAVINGS),
        (CHECKING_ID, AccountType.CHECKING),
    ]


async def test_register_is_empty_and_capabilities_are_balances_and_transactions(
    teller: TellerProvider,
) -> None:
    assert await teller.register("user-1") == {}
    assert teller.name == "teller"
    assert teller.capabilities == {Capability.BALANCES, Capability.TRANSACTIONS}


# --- requests ---------------------------------------------------------------------------------


async def test_every_request_sends_teller_version_and_the_token_as_basic_username(
    build: Callable[..., TellerProvider], control: TellerControl
) -> None:
    teller = build(version="2023-06-01")
    await teller.link({}, TOKEN)
    await teller.balances({}, CREDS, SAVINGS_ID)

    expected_auth = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()
    assert len(control.requests) == 3
    for seen in control.requests:
        assert seen.headers["teller-version"] == "2023-06-01"
        assert seen.headers["authorization"] == expected_auth


async def test_the_default_version_is_the_pinned_2020_10_12(
    teller: TellerProvider, control: TellerControl
) -> None:
    await teller.accounts({}, CREDS)
    [seen] = control.requests
    assert seen.headers["teller-version"] == "2020-10-12"


async def test_the_stub_answers_a_client_without_a_certificate_with_tellers_400(
    stub: RunningStub, control: TellerControl, certs: CertificateSet, closing: Closing
) -> None:
    # As Teller documents it: HTTP 400 bad_request, not a failed handshake.
    no_certificate = ssl.create_default_context(cafile=str(certs.ca))
    client = closing(VendorClient("teller", stub.url, FAST, verify=no_certificate))
    response = await client.request("GET", "/accounts", auth=(TOKEN, ""))
    assert response.status_code == 400
    assert response.json() == stub_data.ERRORS["bad_request_missing_certificate"]
    assert len(control.requests) == 1


CALLS: dict[str, Callable[[TellerProvider], Awaitable[object]]] = {
    "link": lambda teller: teller.link({}, TOKEN),
    "accounts": lambda teller: teller.accounts({}, CREDS),
    "transactions": lambda teller: teller.transactions({}, CREDS, CHECKING_ID),
}


@pytest.mark.parametrize("call", list(CALLS))
async def test_a_missing_certificate_is_a_configuration_error_named_by_readyz(
    teller: TellerProvider,
    control: TellerControl,
    certs: CertificateSet,
    call: str,
) -> None:
    control.set("missing_certificate")
    with (
        structlog.testing.capture_logs() as logs,
        pytest.raises(ProviderMisconfigured) as refused,
    ):
        await CALLS[call](teller)
    assert "FLINT_TELLER_CERTIFICATE_PATH" in refused.value.reason
    assert "Missing certificate" in refused.value.reason
    assert not isinstance(refused.value, (AccountGone, LinkRefused))  # the link is not at fault
    assert len(control.requests) == 1  # not retried: waiting does not fix it
    assert [log["provider"] for log in logs if log["event"] == "vendor_misconfigured"] == ["teller"]
    settings = Settings(
        teller_certificate_path=certs.client_cert, teller_private_key_path=certs.client_key
    )
    check = vendor_checks(settings)["teller"]
    assert check.status == "error"
    assert "FLINT_TELLER_CERTIFICATE_PATH" in (check.detail or "")

    control.set("success")
    await teller.accounts({}, CREDS)  # the certificate accepted again: /readyz clears
    assert vendor_checks(settings)["teller"].status == "ok"


async def test_an_untrusted_client_certificate_is_unavailable_and_unseen(
    build: Callable[..., TellerProvider], control: TellerControl, certs: CertificateSet
) -> None:
    teller = build(certificate=certs.rogue_cert, private_key=certs.rogue_key)
    with pytest.raises(ProviderUnavailable) as failed:
        await teller.link({}, TOKEN)
    assert failed.value.reason == "the provider could not be reached"
    assert control.requests == []


async def test_a_missing_certificate_file_fails_at_construction(
    certs: CertificateSet, tmp_path: Path
) -> None:
    with pytest.raises(OSError, match="No such file"):
        TellerProvider(
            certificate=tmp_path / "absent.pem", private_key=certs.client_key, ca_bundle=certs.ca
        )


# --- balances ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_id", "expected"),
    [
        (SAVINGS_ID, Balances("USD", Decimal("28575.02"), available=Decimal("28575.02"))),
        (CHECKING_ID, Balances("USD", Decimal("4210.77"), available=Decimal("4009.12"))),
        # A card: Teller's ledger is what is owed (positive), available the remaining credit.
        (CREDIT_ID, Balances("USD", Decimal("1250.73"), available=Decimal("8749.27"))),
    ],
)
async def test_balances_are_exact_decimals_of_tellers_strings(
    teller: TellerProvider, account_id: str, expected: Balances
) -> None:
    balances = await teller.balances({}, CREDS, account_id)
    assert balances == expected
    assert str(balances.current) == str(expected.current)  # same digits, not just equal


async def test_balances_of_an_unknown_account_are_gone(teller: TellerProvider) -> None:
    with pytest.raises(AccountGone) as gone:
        await teller.balances({}, CREDS, "acc_not_mine")
    assert gone.value.reason == "The requested resource was not found."


# --- transactions -----------------------------------------------------------------------------


async def test_transactions_are_paged_completely_and_arrive_once_newest_first(
    teller: TellerProvider, control: TellerControl
) -> None:
    transactions = await teller.transactions({}, CREDS, CHECKING_ID)

    assert len(transactions) == CHECKING_TRANSACTIONS == 600
    assert [t.id for t in transactions] == [raw["id"] for raw in CHECKING_LIST]
    assert len({t.id for t in transactions}) == 600
    dates = [t.date for t in transactions]
    assert dates == sorted(dates, reverse=True)
    assert dates[0] == CHECKING_NEWEST
    assert transaction_requests(control, CHECKING_ID) == [
        {"count": str(PAGE_SIZE)},
        {"count": "250", "from_id": CHECKING_LIST[249]["id"]},
        {"count": "250", "from_id": CHECKING_LIST[499]["id"]},
        {"count": "250", "from_id": CHECKING_LIST[599]["id"]},  # the empty page ends it
    ]


async def test_pages_shorter_than_asked_do_not_end_the_listing(
    teller: TellerProvider, control: TellerControl
) -> None:
    # A vendor capping pages at 100 (below the 250 asked for) must not cut the history.
    control.page_cap = 100
    transactions = await teller.transactions({}, CREDS, CHECKING_ID)

    assert [t.id for t in transactions] == [raw["id"] for raw in CHECKING_LIST]
    requests = transaction_requests(control, CHECKING_ID)
    assert len(requests) == 7  # six pages of 100, then the empty one
    assert requests[-1] == {"count": "250", "from_id": CHECKING_LIST[599]["id"]}


async def test_transactions_keep_amount_status_category_and_type(
    teller: TellerProvider,
) -> None:
    transactions = await teller.transactions({}, CREDS, CHECKING_ID)
    first, deposit = CHECKING_LIST[0], CHECKING_LIST[7]

    assert transactions[0] == Transaction(
        id=first["id"],
        date=CHECKING_NEWEST,
        amount=Decimal(first["amount"]),
        description="WHOLE FOODS MARKET #10233",
        status="pending",
        category="groceries",
        type="card_payment",
        currency="USD",
    )
    assert transactions[0].amount < 0  # spend on a checking account stays negative
    assert transactions[7] == Transaction(
        id=deposit["id"],
        date=CHECKING_NEWEST - timedelta(days=1),
        amount=Decimal("1500.00"),
        description="ACME CORP PAYROLL",
        status="posted",
        category="income",
        type="deposit",
        currency="USD",
    )


async def test_card_transactions_are_signed_from_the_holders_side(
    teller: TellerProvider,
) -> None:
    transactions = await teller.transactions({}, CREDS, CREDIT_ID)
    # Teller sends the card's spend positive ("86.46", "42.47"): Flint's spend is negative.
    assert transactions == [
        Transaction(
            id="txn_oiluj93igokseo0i3a000",
            date=date(2023, 7, 15),
            amount=Decimal("-86.46"),
            description="Transfer to Checking",
            status="pending",
            category="general",
            type="transfer",
        ),
        Transaction(
            id="txn_oiluj93igokseo0i3a005",
            date=date(2023, 7, 13),
            amount=Decimal("-42.47"),
            description="ATM Withdrawal",
            status="posted",
            category="service",
            type="atm",
        ),
    ]


@pytest.mark.parametrize(("days_back", "pages"), [(40, 1), (100, 2)])
async def test_since_cuts_the_list_and_stops_paging(
    teller: TellerProvider, control: TellerControl, days_back: int, pages: int
) -> None:
    since = CHECKING_NEWEST - timedelta(days=days_back)
    transactions = await teller.transactions({}, CREDS, CHECKING_ID, since=since)

    expected = [raw["id"] for raw in CHECKING_LIST if date.fromisoformat(raw["date"]) >= since]
    assert [t.id for t in transactions] == expected
    assert len(expected) == (days_back + 1) * 4
    assert min(t.date for t in transactions) == since
    assert len(transaction_requests(control, CHECKING_ID)) == pages


async def test_a_first_transactions_call_that_times_out_is_retried(
    teller: TellerProvider, control: TellerControl
) -> None:
    control.set("slow@transactions", times=1, delay=HOLD)  # FAST's 0.5 s read timeout ends it
    transactions = await teller.transactions({}, CREDS, CHECKING_ID)

    assert len(transactions) == 600
    first_pages = [p for p in transaction_requests(control, CHECKING_ID) if "from_id" not in p]
    assert len(first_pages) == 2  # timed out once, then answered


async def test_even_a_one_attempt_policy_retries_the_slow_first_call(
    build: Callable[..., TellerProvider], control: TellerControl
) -> None:
    assert DEFAULT_POLICY.attempts >= 2
    assert DEFAULT_POLICY.backoff_initial >= 1  # "wait a few seconds and try again"
    teller = build(policy=replace(FAST, attempts=1))
    control.set("slow@transactions", times=1, delay=HOLD)

    transactions = await teller.transactions({}, CREDS, CREDIT_ID)
    assert [t.id for t in transactions] == [
        "txn_oiluj93igokseo0i3a000",
        "txn_oiluj93igokseo0i3a005",
    ]


async def test_transactions_that_stay_slow_are_unavailable(
    teller: TellerProvider, control: TellerControl
) -> None:
    control.set("slow@transactions", delay=HOLD)
    with pytest.raises(ProviderUnavailable) as failed:
        await teller.transactions({}, CREDS, CREDIT_ID)
    assert failed.value.reason == "the provider timed out"
    assert len(transaction_requests(control, CREDIT_ID)) == FAST.attempts


# --- unlink -----------------------------------------------------------------------------------


async def test_unlink_deletes_every_account_of_the_enrollment_and_is_idempotent(
    teller: TellerProvider, control: TellerControl
) -> None:
    link = await teller.link({}, UNLINK_TOKEN)
    assert link.credentials["enrollmentId"] == UNLINK_ENROLLMENT
    assert [a.id for a in link.accounts] == list(UNLINK_IDS)

    await teller.unlink({}, link.credentials)
    assert control.deleted == set(UNLINK_IDS)
    deletes = [s.path for s in control.requests if s.path.startswith("/accounts/")]
    assert deletes == [f"/accounts/{account_id}" for account_id in UNLINK_IDS]

    await teller.unlink({}, link.credentials)  # nothing left: no error
    assert await teller.accounts({}, link.credentials) == []
    assert control.deleted == set(UNLINK_IDS)


async def test_unlink_takes_an_account_already_gone_as_done(
    teller: TellerProvider, control: TellerControl
) -> None:
    control.set("gone@delete")  # the listing names accounts whose DELETE answers 404
    await teller.unlink({}, {"accessToken": UNLINK_TOKEN, "enrollmentId": UNLINK_ENROLLMENT})
    deletes = [s.path for s in control.requests if s.path.startswith("/accounts/")]
    assert len(deletes) == 2


@pytest.mark.parametrize("scenario", ["revoked", "401", "disconnected"])
async def test_unlink_of_an_enrollment_teller_no_longer_knows_is_quiet(
    teller: TellerProvider, control: TellerControl, scenario: str
) -> None:
    control.set(scenario)
    await teller.unlink({}, CREDS)
    assert [s.path for s in control.requests] == ["/accounts"]


async def test_unlink_without_a_token_does_nothing(
    teller: TellerProvider, control: TellerControl
) -> None:
    await teller.unlink({}, {})
    assert control.requests == []


# --- failures ---------------------------------------------------------------------------------


def _calls(teller: TellerProvider) -> dict[str, Callable[[], Any]]:
    return {
        "accounts": lambda: teller.accounts({}, CREDS),
        "balances": lambda: teller.balances({}, CREDS, CHECKING_ID),
        "transactions": lambda: teller.transactions({}, CREDS, CHECKING_ID),
    }


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("revoked", "Authorization token is invalid"),
        ("401", "Missing access token"),
        ("disconnected", "User MFA is required."),
    ],
)
@pytest.mark.parametrize("call", ["accounts", "balances", "transactions"])
async def test_a_revoked_or_disconnected_enrollment_is_account_gone(
    teller: TellerProvider, control: TellerControl, scenario: str, reason: str, call: str
) -> None:
    control.set(scenario)
    with pytest.raises(AccountGone) as gone:
        await _calls(teller)[call]()
    assert gone.value.reason == reason


@pytest.mark.parametrize(
    ("scenario", "call"),
    [
        ("html", "accounts"),
        ("truncated", "accounts"),
        ("missing", "accounts"),
        ("html", "balances"),
        ("truncated", "balances"),
        ("missing@balances", "balances"),
        ("bad_amount", "balances"),
        ("missing@account", "balances"),
        ("truncated@transactions", "transactions"),
        ("missing@transactions", "transactions"),
        ("bad_amount", "transactions"),
    ],
)
async def test_garbage_is_provider_garbage(
    teller: TellerProvider, control: TellerControl, scenario: str, call: str
) -> None:
    control.set(scenario)
    with pytest.raises(ProviderGarbage):
        await _calls(teller)[call]()


async def test_link_of_garbage_is_provider_garbage(
    teller: TellerProvider, control: TellerControl
) -> None:
    control.set("missing")
    with pytest.raises(ProviderGarbage):
        await teller.link({}, TOKEN)


async def test_a_server_error_once_is_retried(
    teller: TellerProvider, control: TellerControl
) -> None:
    control.set("500", times=1)
    balances = await teller.balances({}, CREDS, SAVINGS_ID)
    assert balances.current == Decimal("28575.02")


@pytest.mark.parametrize(
    ("scenario", "error"), [("500", ProviderUnavailable), ("429", ProviderThrottled)]
)
async def test_persistent_server_errors_fail_after_the_retries(
    teller: TellerProvider, control: TellerControl, scenario: str, error: type[Exception]
) -> None:
    control.set(scenario)
    with pytest.raises(error):
        await teller.accounts({}, CREDS)
    assert len(control.requests) == FAST.attempts


async def test_holdings_orders_and_the_portal_are_unsupported(teller: TellerProvider) -> None:
    order = OrderRequest(
        account_id=CHECKING_ID,
        client_order_id="t-1",
        symbol="AAPL",
        action=OrderAction.BUY,
        quantity=Decimal(1),
    )
    calls = [
        teller.holdings({}, CREDS, CHECKING_ID),
        teller.connect_url({}, redirect_url=None),
        teller.place_order({}, CREDS, order),
        teller.find_order({}, CREDS, CHECKING_ID, "t-1"),
        teller.get_order({}, CREDS, CHECKING_ID, "o-1"),
        teller.cancel_order({}, CREDS, CHECKING_ID, "o-1"),
    ]
    for call in calls:
        with pytest.raises(Unsupported):
            await call


async def test_the_access_token_never_reaches_logs_or_errors(
    teller: TellerProvider, control: TellerControl, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[Exception] = []
    with structlog.testing.capture_logs() as logs:
        control.set("500", times=1)  # a retry, which logs
        await teller.accounts({}, CREDS)
        control.set("slow@transactions", times=1, delay=HOLD)  # a timeout, retried
        await teller.transactions({}, CREDS, CREDIT_ID)
        for scenario in ("revoked", "500", "html"):
            control.set(scenario)
            try:
                await teller.transactions({}, CREDS, CREDIT_ID)
            except Exception as failed:
                errors.append(failed)
        control.set("revoked")
        try:
            await teller.link({}, TOKEN)
        except LinkRefused as refused:
            errors.append(refused)

    assert len(errors) == 4
    assert any(entry.get("event") == "vendor_retry" for entry in logs)
    logged = repr(logs) + caplog.text
    encoded = base64.b64encode(f"{TOKEN}:".encode()).decode()
    for secret in (TOKEN, encoded):
        assert secret not in logged
        for error in errors:
            assert secret not in str(error)
            assert secret not in repr(error.__cause__)
