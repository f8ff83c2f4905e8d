"""Password hashing (argon2id, OWASP parameters) and the password policy."""

from __future__ import annotations

import asyncio
import itertools
import os
import string
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id minimum: m = 19 MiB, t = 2, p = 1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)

T = TypeVar("T")

HASHING_THREADS = min(4, os.cpu_count() or 1)
_hashing = ThreadPoolExecutor(HASHING_THREADS, thread_name_prefix="flint-argon2")
"""Hashes and checks run off the event loop on these threads only: each thread that ever ran
one keeps its 19 MiB in its malloc arena, so on anyio's shared worker threads a burst of 32
sign-ins left an API process 570 MiB larger for good; here at most ``HASHING_THREADS`` x 19 MiB
(and no more hashes at once than there are cores to run them)."""


async def _off_loop(work: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hashing, work, *args)


MIN_LENGTH = 10
MAX_LENGTH = 128


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    """zxcvbn's list of the 30,000 most common leaked passwords."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _is_run(password: str) -> bool:
    """One character repeated, or an unbroken ascending or descending run: "aaaaaaaaaa",
    "abcdefghijkl", "123456789012" (digits wrap from 9 to 0). Such runs are what people type
    when a list of leaked passwords has no entry long enough, so they are refused alike."""
    lowered = password.lower()
    steps: set[int] = set()
    for before, after in itertools.pairwise(lowered):
        if before in string.digits and after in string.digits:
            step = (int(after) - int(before)) % 10
            steps.add(-1 if step == 9 else step)
        else:
            steps.add(ord(after) - ord(before))
        if len(steps) > 1:
            return False
    return steps <= {-1, 0, 1}


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why a password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if password.lower() in _common_passwords():
        return "is too common; choose one that is not on lists of leaked passwords"
    if _is_run(password):
        return "is too common: a run of repeated or consecutive characters"
    if email and password.lower() == email.lower().split("@")[0]:
        return "must not be your email address"
    return None


async def hash_password(password: str) -> str:
    """Hash off the event loop: argon2 costs tens of milliseconds of CPU by design."""
    return await _off_loop(_hasher.hash, password)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("flint-timing-equaliser")


async def verify_password(hashed: str | None, password: str) -> bool:
    """Verify; with no user (hashed=None) still spend the same time so emails can't be probed.

    Without a hash the answer is always False, even for the dummy hash's own password.
    """
    matches = await _off_loop(_verify, hashed or _dummy_hash(), password)
    return matches and hashed is not None


def needs_rehash(hashed: str) -> bool:
    return _hasher.check_needs_rehash(hashed)
