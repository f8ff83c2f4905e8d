"""The tests' settings (`explicit_settings`) are what ``Settings(_env_file=None, ...)`` makes of
the same values, and refuse what it refuses; only the environment is not read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydantic
import pytest

from flint.config import Settings
from tests.conftest import explicit_settings


def test_the_tests_settings_are_flints_own_for_the_same_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [name for name in os.environ if name.startswith("FLINT_")]:
        monkeypatch.delenv(name)  # what Settings would read, and explicit_settings never does
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": "/tmp/flint-settings",
        "database_url": "sqlite+aiosqlite:////tmp/flint-settings/flint.db",
        "performance_workers": "2",
        "cors_origins": ["https://app.example.com"],
        "smtp_host": None,
    }
    made = explicit_settings(values)
    assert made == Settings(_env_file=None, **values)  # type: ignore[call-arg]
    assert isinstance(made.data_dir, Path)
    assert made.performance_workers == 2
    assert made.model_copy(update={"env": "production"}).env == "production"


@pytest.mark.parametrize("bad", [{"performance_workers": "many"}, {"port": 0}, {"env": "prod"}])
def test_they_refuse_what_flint_refuses(bad: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Settings(_env_file=None, **bad)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        explicit_settings(bad)
