"""Take secrets out of whatever leaves the process for someone else to read: error reports
(Sentry events) and log lines.

Two passes, because secrets arrive in two shapes: under a telling name (a header, a form
field, a local variable, a JSON key) whose value is replaced whatever it is, and inside free
text (a URL's query string, an exception message, a breadcrumb) where known shapes of secret
are cut out. A name is telling when, lower-cased and without ``-`` and ``_``, it contains one
of `SECRET_NAMES` (so ``X-Api-Key``, ``refreshToken`` and ``new_password`` all match).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FILTERED = "[Filtered]"

SECRET_NAMES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "auth",  # authCode (a provider's link code), x-auth-*, proxy-authorization
    "cookie",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "signature",
    "accountnumber",
    "routingnumber",
    "iban",
    "cardnumber",
    "cvv",
    "ssn",
    "otp",
    "totp",
    "recoverycode",
    "sessionid",
    "csrf",
    "dsn",
)
"""Name fragments (normalized) whose values are never kept."""

_KEY_PATTERN = "|".join(
    sorted({re.escape(name).replace("_", "") for name in SECRET_NAMES}, key=len, reverse=True)
)

_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization schemes: "Bearer eyJ...", "Basic dXNlcjpw..."
    (
        re.compile(r"\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=\-]+", re.IGNORECASE),
        r"\1 " + FILTERED,
    ),
    # A JSON Web Token anywhere
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), FILTERED),
    # Stripe's key shapes (sk_/rk_/pk_ and webhook signing secrets)
    (re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]+"), FILTERED),
    (re.compile(r"\bwhsec_[A-Za-z0-9]+"), FILTERED),
    # user:password@ in a URL (database, broker and DSN URLs)
    (
        re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)[^/\s:@]*:[^/\s@]*@", re.IGNORECASE),
        r"\g<scheme>" + FILTERED + "@",
    ),
)

_PAIR = re.compile(
    r"(?P<key>[A-Za-z0-9_.\-\[\]]*?(?:" + _KEY_PATTERN + r")[A-Za-z0-9_.\-\[\]]*)"
    r"(?P<sep>\s*[=:]\s*|\"\s*:\s*\")"
    r"(?P<value>[^&\s,;\"'}]+)",
    re.IGNORECASE,
)
"""``name=value`` (query strings, form bodies, log text) and ``"name": "value"`` (JSON text)
where the name is telling."""


_ONE_TIME_CODE = re.compile(r"^\s*\d{4,10}\s*$")


def _is_secret(name: object, value: object) -> bool:
    """A value under a telling name, or a bare ``code`` holding digits (a sign-in code; a
    vendor's error ``code`` such as ``resource_missing`` stays)."""
    if not isinstance(name, str) or value is None or value == "":
        return False
    if is_secret_name(name):
        return True
    return name.lower() == "code" and isinstance(value, str) and bool(_ONE_TIME_CODE.match(value))


def is_secret_name(name: str) -> bool:
    """Whether a value under ``name`` is to be dropped."""
    normalized = name.lower().replace("-", "").replace("_", "")
    return any(fragment.replace("_", "") in normalized for fragment in SECRET_NAMES)


def scrub_text(text: str) -> str:
    """``text`` with known secret shapes and telling ``name=value`` pairs cut out."""
    for pattern, keep in _TEXT_PATTERNS:
        text = pattern.sub(keep, text)
    return _PAIR.sub(lambda m: f"{m.group('key')}{m.group('sep')}{FILTERED}", text)


def scrub(value: Any, *, _depth: int = 0) -> Any:
    """A copy of ``value`` (dicts, lists, tuples and strings, nested) with secrets removed:
    values under telling names replaced, free text passed through `scrub_text`. Header lists
    (``[["Authorization", "Bearer x"], ...]``) are treated as the mappings they are."""
    if _depth > 64:
        return FILTERED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {
            key: FILTERED if _is_secret(key, value[key]) else scrub(value[key], _depth=_depth + 1)
            for key in value
        }
    if isinstance(value, list | tuple):
        if _is_pair(value) and is_secret_name(value[0]):
            return type(value)([value[0], FILTERED])
        return type(value)(scrub(item, _depth=_depth + 1) for item in value)
    return value


def _is_pair(value: list[Any] | tuple[Any, ...]) -> bool:
    return len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], str)
