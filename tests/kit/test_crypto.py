"""Credentials sealed at rest: Fernet through MultiFernet, so keys can be rotated."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from flint.kit.crypto import (
    CredentialBox,
    CredentialsUnreadable,
    load_or_create_fernet_key,
    parse_keys,
)


def test_sealed_values_open_again_and_do_not_show_the_secret() -> None:
    box = CredentialBox([Fernet.generate_key().decode()])
    sealed = box.seal({"accessToken": "token_abc123", "enrollmentId": "enr_1"})
    assert "token_abc123" not in sealed
    assert box.open(sealed) == {"accessToken": "token_abc123", "enrollmentId": "enr_1"}


def test_a_new_key_in_front_still_opens_old_values_and_rotate_moves_them_to_it() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = CredentialBox([old]).seal({"code": "x"})
    both = CredentialBox([new, old])
    assert both.open(sealed_with_old) == {"code": "x"}
    rotated = both.rotate(sealed_with_old)
    assert CredentialBox([new]).open(rotated) == {"code": "x"}
    with pytest.raises(CredentialsUnreadable):
        CredentialBox([new]).open(sealed_with_old)


def test_keys_are_parsed_newest_first_and_a_malformed_one_is_named() -> None:
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert parse_keys(f" {first} , {second} ") == [first, second]
    with pytest.raises(ValueError, match="#2"):
        parse_keys(f"{first},not-a-key")
    with pytest.raises(ValueError, match="at least one"):
        CredentialBox(parse_keys(" , "))


def test_a_generated_key_is_kept_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "credentials.key"
    key = load_or_create_fernet_key(path)
    assert Fernet(key.encode())  # a valid Fernet key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_fernet_key(path) == key


def test_processes_racing_to_create_the_key_all_read_the_same_whole_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "credentials.key"
    with ThreadPoolExecutor(max_workers=16) as pool:
        keys = list(pool.map(lambda _: load_or_create_fernet_key(path), range(64)))
    assert len(set(keys)) == 1
    assert Fernet(keys[0].encode())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials.key"]  # no leftovers
