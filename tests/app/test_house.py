"""The shape of the code, enforced: small modules and classes (the import rules between features
are `lint-imports`' contracts in pyproject.toml, run by `make lint`)."""

from __future__ import annotations

import ast
from pathlib import Path

import flint

SOURCE = Path(flint.__file__).parent
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300


def modules() -> list[Path]:
    """Every hand-written module (generated migrations aside)."""
    return [p for p in sorted(SOURCE.rglob("*.py")) if "versions" not in p.parts]


def test_the_walk_sees_the_whole_package() -> None:
    names = {p.relative_to(SOURCE).as_posix() for p in modules()}
    assert {"app/main.py", "market/service.py", "brokerage/sandbox/provider.py"} <= names


def test_no_module_is_over_500_lines() -> None:
    long = {
        p.relative_to(SOURCE).as_posix(): lines
        for p in modules()
        if (lines := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_class_is_over_300_lines() -> None:
    large = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    large[f"{path.relative_to(SOURCE).as_posix()}:{node.name}"] = size
    assert large == {}
