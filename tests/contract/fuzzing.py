"""One schemathesis run over an OpenAPI document Flint serves, in process, as its command line
runs one (`st run`): every phase (examples, coverage, fuzzing, stateful), every check, a fixed
seed; and what it found, as a report a failing test prints.

``FLINT_FUZZ_EXAMPLES=N`` (what ``make fuzz`` sets) runs N random examples per operation and
phase instead of CI's fixed, derandomized few.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import events, from_schema

from flint.portfolio import ghostfolio
from tests.contract import error_fields  # noqa: F401  (registers its check)
from tests.contract.seed import Seeded

LONG = int(os.environ.get("FLINT_FUZZ_EXAMPLES", "0") or 0)
EXAMPLES = LONG or 10
"""Examples per operation and phase: few in CI (each is a request; the run repeats per document
and database), `LONG` under ``make fuzz``."""
SEED = int(os.environ.get("FLINT_FUZZ_SEED", "0") or 0) or (
    secrets.randbelow(2**31) + 1 if LONG else 20
)
"""CI explores the same cases on every run (20): a red main means a regression, not a new
draw. ``make fuzz`` draws a new seed each run (a fixed one explored the same cases every
time), and the report names it: ``FLINT_FUZZ_SEED=<seed> make fuzz`` runs those cases again."""

PINNED = {
    "userId": "[^/]*\\{userId\\}",
    "accountId": "/accounts/\\{accountId\\}",
    "portfolioId": "/portfolio/\\{portfolioId\\}",
    "tradeId": "/trades/\\{tradeId\\}",
    "alertId": "/alerts/\\{alertId\\}",
    "symbol": "/assets/\\{symbol\\}",
    "reportId": "/reports/\\{reportId\\}",
    "notificationId": "/notifications/\\{notificationId\\}",
}
"""Path parameters bound to the seeded user's rows (path regexes), so the reads read rows and
the writes change them. Deletes draw their ids (a 404), except in the stateful phase, which
deletes what it created: deleting the seeded rows first would leave the rest nothing to read."""


EXCLUDED = {
    "/billing/webhook": "Stripe's webhook: every request without Stripe's signature over its "
    "exact body is refused before the body is read (tests/fuzz/test_webhooks.py fuzzes it with "
    "and without signatures)",
    "/webhooks/snaptrade": "SnapTrade's webhook: likewise, its HMAC signature (fuzzed in "
    "tests/fuzz/test_webhooks.py)",
    "/auth/logout-all": "signing out everywhere takes no input and ends the fuzzing user's "
    "sign-in: every operation after it would be a 401 (tests/auth/test_sign_out.py and the "
    "credential walk in tests/authz/test_credentials.py cover it)",
}
"""Operations left out, with the reason: a blind request can never reach past the signature."""


@dataclass(frozen=True)
class Unstatable:
    """A refusal (a 422 naming ``field`` with a message matching ``message``) of a request the
    schema allows, by a rule the schema does not state: ``why`` says why it cannot, or that it
    can and is still to be written (``todo``)."""

    field: str
    message: str
    why: str
    todo: bool = False
    operation: str = ""
    """A regex the operation's label must contain a match of (any operation when empty)."""
    when: Callable[[Any, str], bool] | None = None
    """Only where this holds of the request's JSON body and the error's field."""

    def covers(self, operation: str, error: dict[str, Any], body: Any = None) -> bool:
        field = str(error.get("field", ""))
        return bool(
            re.search(self.operation, operation)
            and re.fullmatch(self.field, field)
            and re.search(self.message, str(error.get("message", "")))
            and (self.when is None or self.when(body, field))
        )


MISSING = object()


def _value_at(body: Any, field: str) -> Any:
    """The value a field name of an error (``body.assets[2].quantity``) points at in a JSON
    request body (`MISSING` when it points nowhere)."""
    if not field.startswith("body"):
        return MISSING
    value = body
    for name, index in re.findall(r"\.(\w+)|\[(\d+)\]", field.removeprefix("body")):
        index = index or (name if name.isdigit() else "")
        if index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        elif name and isinstance(value, dict) and name in value:
            value = value[name]
        else:
            return MISSING
    return value


def a_json_number(body: Any, field: str) -> bool:
    """The request gave the field a JSON number (not text)."""
    value = _value_at(body, field)
    return isinstance(value, int | float) and not isinstance(value, bool)


def a_cash_activity(body: Any, field: str) -> bool:
    """The field is of a Ghostfolio activity whose amount is quantity x unitPrice (+ fee)."""
    found = re.match(r"activities\[(\d+)\]", field)
    if found is None or not isinstance(body, dict):
        return False
    rows, index = body.get("activities", body.get("orders")), int(found[1])
    activity = rows[index] if isinstance(rows, list) and index < len(rows) else None
    kind = activity.get("type") if isinstance(activity, dict) else None
    return isinstance(kind, str) and ghostfolio.kind_of(kind) in {"DIVIDEND", "INTEREST", "FEE"}


GHOSTFOLIO = "/portfolio/import/ghostfolio$"
NESTED = r"(\.\w+|\[\d+\])*"
"""The fields and items between a body and a field within it, as errors name them
(``body.assets[2].purchaseDate``, ``body[1].price``; ``body.1.price`` as FastAPI wrote it before
`flint.errors.field_path`)."""

DATES_TODAY = "dates relative to today"
MARKET_SYMBOLS = "the market's symbols are the provider's, not the document's"
FILE_CONTENT = "what a file holds is not JSON Schema's to state"
"""Reasons several rules give (a request's fields and the Ghostfolio file's; a file's lines
and the file uploaded whole), each counted as one."""

UNSTATABLE = [
    Unstatable(
        "body.(password|newPassword)",
        "too common|must not be your email",
        "the password policy's list of leaked passwords and runs",
    ),
    Unstatable(
        "body.token",
        "invalid, expired or already used",
        "which reset tokens exist only the server knows",
    ),
    Unstatable(
        "body.newPassword",
        "is the current password",
        "what the current password is only the server knows",
    ),
    Unstatable(
        "body.email",
        "is not this account's email address",
        "which address is the caller's only the server knows",
        operation="DELETE .*/users/me$",
    ),
    Unstatable(
        "body.password",
        "^required$",
        "whether the account has a password (one Auth0 made has none) is the account's",
        operation="DELETE .*/users/me$",
    ),
    Unstatable(
        "body.threshold",
        "threshold",
        "a threshold sent without a condition must fit the alert's own, which is stored",
        operation="PATCH .*/alerts/",
        when=lambda body, field: isinstance(body, dict) and body.get("condition") is None,
    ),
    Unstatable(
        rf"body{NESTED}\.sms",
        "SMS needs a phone number first",
        "whether the account has a phone number for SMS is the account's",
    ),
    Unstatable(
        "body.code",
        "required: two-factor sign-in is on",
        "whether two-factor sign-in is on is the account's",
    ),
    Unstatable("query.cursor", "not one this API gave out", "a cursor is opaque"),
    Unstatable("body", "file", FILE_CONTENT),
    Unstatable(r"line \d+(\.\w+)?", ".*", FILE_CONTENT),
    Unstatable(
        rf"(query|body){NESTED}\.\w+",
        "in the future|must be in the future|before 1900",
        DATES_TODAY,
    ),
    Unstatable(
        r"query\.(start|end)|body\.(start|end)",
        "after end|before start",
        "one parameter against another's value (start <= end)",
    ),
    Unstatable(
        r"query\.start",
        r"at most \d+ years before end",
        "the span from start to end (today when left out) against its limit: one parameter "
        "against another's value",
    ),
    Unstatable(
        r"query\.start",
        r"history is limited to \d+ days per request",
        "an intraday interval's span from start to end (today when left out) against the "
        "interval's limit: three parameters' values and today",
    ),
    Unstatable(
        rf"(query|body){NESTED}\.(symbol|benchmark|asset)",
        "(?i)^unknown (symbol|benchmark)",
        MARKET_SYMBOLS,
    ),
    Unstatable(
        rf"body{NESTED}\.(symbol|date|purchaseDate)",
        "has no prices yet|has no price before",
        "which days a symbol has prices for is the market's (a custom asset's, its owner's)",
    ),
    Unstatable(
        "body.provider",
        "is not configured on this server",
        "which providers are configured is the server's setting",
    ),
    Unstatable(
        "body.authCode",
        "not a SnapTrade connection id|refused the code|unknown",
        "which connection ids (and codes) exist only the institution knows",
    ),
    Unstatable(  # the ledger's: the stored rows and the body's, replayed (`service`, `cash`)
        rf"body{NESTED}",
        "which is not held then|exceeds the .* held then|overdraws the cash",
        "the ledger's rules across its rows and the body's (cash and positions day by day) "
        "are arithmetic, which no schema states",
    ),
    Unstatable(
        rf"body{NESTED}\.(quantity|price|purchasePrice|amount|fee|threshold|"
        r"limitPrice|stopPrice)",
        "decimal places",
        "a JSON number's scale: multipleOf 0.00000001 is inexact on the doubles a schema "
        "validator reads numbers as (the range is stated, and text's scale by its pattern)",
        when=a_json_number,
    ),
    # The Ghostfolio file's, whose errors name the file's own fields (`activities[3].date`).
    Unstatable(
        r"(activities\[\d+\]|accounts\[\d+\]\.balances\[\d+\]|"
        r"assetProfiles\[\d+\]\.marketData\[\d+\]|meta)\.date",
        "in the future|before 1900",
        DATES_TODAY,
        operation=GHOSTFOLIO,
    ),
    Unstatable(
        r"activities\[\d+\]\.symbol",
        "^(unknown|invalid) symbol",
        MARKET_SYMBOLS,
        operation=GHOSTFOLIO,
    ),
    Unstatable(
        r"activities\[\d+\]\.accountId|accounts\[\d+\]\.id",
        "^no account|is given twice",
        "references within the file (an activity's account among the accounts' ids, each "
        "given once)",
        operation=GHOSTFOLIO,
    ),
    Unstatable(
        r"activities\[\d+\]\.(unitPrice|fee)",
        "greater than 0|at most",
        "a DIVIDEND's, INTEREST's or FEE's amount is quantity x unitPrice (+ fee): arithmetic",
        operation=GHOSTFOLIO,
        when=a_cash_activity,
    ),
    Unstatable(  # the file sent as a multipart upload: any bytes are the schema's `binary`
        "body",
        "^not JSON",
        FILE_CONTENT,
        operation=GHOSTFOLIO,
    ),
    Unstatable(
        r"user\.settings\.currency",
        "cannot be a base currency",
        "the user's currency is read only where a portfolio takes it (the query's "
        "portfolios=one without baseCurrency, or activities without an account)",
        operation=GHOSTFOLIO,
    ),
    Unstatable(
        r"assetProfiles\[symbol=.*\]\.\w+",
        ".*",
        "a custom asset is made of the MANUAL profile its activities name (a reference "
        "within the file)",
        operation=GHOSTFOLIO,
    ),
]
"""Rules a schema does not state (``todo=False``: cannot), whose refusals of schema-valid
requests the run counts instead of failing on. Every other refusal of a valid request fails."""


@dataclass
class Finding:
    phase: str
    operation: str
    check: str
    title: str
    message: str
    request: str
    response: str

    def __str__(self) -> str:
        return (
            f"[{self.phase}] {self.operation}: {self.check}: {self.title}\n"
            f"  {self.message.strip().replace(chr(10), chr(10) + '  ')}\n"
            f"  {self.request}\n  -> {self.response}"
        )


@dataclass
class Report:
    operations: set[str] = field(default_factory=set)
    expected: set[str] = field(default_factory=set)
    """Every operation of the document but the `EXCLUDED`: what the run should reach."""
    cases: Counter[str] = field(default_factory=Counter)
    """Requests sent, by phase."""
    findings: list[Finding] = field(default_factory=list)
    unstatable: Counter[str] = field(default_factory=Counter)
    """Refusals by a rule in `UNSTATABLE`, by its reason."""
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        phases = ", ".join(f"{phase} {count}" for phase, count in sorted(self.cases.items()))
        return (
            f"seed {SEED}: {len(self.operations)} operations, {sum(self.cases.values())} requests "
            f"({phases}) in {self.seconds:.1f} s; {len(self.findings)} failures, "
            f"{len(self.errors)} errors; refused by rules no schema states: "
            f"{dict(self.unstatable) or 'none'}"
        )

    def details(self) -> str:
        return "\n\n".join([self.summary(), *self.errors, *map(str, self.findings)])


REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
"""How an invalid request may be refused: schemathesis' own list, and 413, a body over the
limit (a list past its ``maxItems`` can be: 10,000 prices of a custom asset, each with a long
price, were over 1 MiB in ``make fuzz``). Not 5xx: a server error is never a refusal here."""


def config(seeded: Seeded, prefix: str, *, coverage: bool = True) -> schemathesis.Config:
    """Every check and phase (``coverage``: the coverage phase too), as the signed-in seeded
    user, with the seeded rows pinned."""
    operations: list[dict[str, Any]] = [
        {
            "include-path-regex": f"^{prefix}{path}",
            "exclude-method": "DELETE",
            "parameters": {f"path.{name}": seeded.ids[name]},
        }
        for name, path in PINNED.items()
        if name in seeded.ids
    ]
    operations += [
        {"include-path-regex": f"^{prefix}{path}$", "enabled": False} for path in EXCLUDED
    ]
    generation: dict[str, Any] = {"max-examples": EXAMPLES, "database": "none"}
    if not LONG:
        generation["deterministic"] = True
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": generation,
            "headers": seeded.headers,
            "operations": operations,
            "checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}},
            "phases": {"coverage": {"enabled": coverage}},
        }
    )


def run(app: Any, document: str, seeded: Seeded, prefix: str, *, coverage: bool = True) -> Report:
    """Run schemathesis over `document` of `app` (in process, on schemathesis' own event loop,
    where the seeded user was made), with the coverage phase unless ``coverage`` is false."""
    settings = config(seeded, prefix, coverage=coverage)
    schema = schemathesis.openapi.from_asgi(document, app, config=settings)
    report = Report()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.removeprefix(prefix) not in EXCLUDED:
            report.expected.add(operation.label)
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(report, event)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
    report.seconds = time.monotonic() - started
    return report


def _record(report: Report, event: events.ScenarioFinished) -> None:
    recorder = event.recorder
    if event.label and event.phase.value != "stateful":
        report.operations.add(event.label)
    report.cases[event.phase.value] += len(recorder.interactions)
    for case_id, checks in recorder.checks.items():
        for check in checks:
            info = check.failure_info
            if info is None:
                continue
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            sent = interaction.request.body if interaction is not None else None
            rule = _unstatable(str(event.label), check.name, response, sent)
            if rule is not None:
                report.unstatable[rule.why] += 1
                continue
            answer = (
                f"{response.status_code} {(response.content or b'')[:600]!r}"
                if response is not None
                else "no response"
            )
            report.findings.append(
                Finding(
                    phase=event.phase.value,
                    operation=info.failure.operation or str(event.label),
                    check=check.name,
                    title=info.failure.title,
                    message=info.failure.message,
                    request=info.code_sample,
                    response=answer,
                )
            )


def _unstatable(
    operation: str, check: str, response: Any, sent: bytes | None = None
) -> Unstatable | None:
    """The `UNSTATABLE` rule a refusal of a valid request (its body ``sent``) is by, if every
    error it names is."""
    if check != "positive_data_acceptance" or response is None or response.status_code != 422:
        return None
    try:
        errors = json.loads(response.content or b"{}").get("errors") or []
    except ValueError:
        return None
    try:
        body = json.loads(sent) if sent else None
    except ValueError:
        body = None
    rules = [next((r for r in UNSTATABLE if r.covers(operation, e, body)), None) for e in errors]
    if not rules or None in rules:
        return None
    return rules[0]
