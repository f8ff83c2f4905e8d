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


TESTS = Path(__file__).parents[1]


def test_every_folder_of_test_modules_is_a_package() -> None:
    """pytest puts a folder of test modules that is not a package on ``sys.path`` (its
    ``prepend`` import mode); a process spawned from that test process (the performance
    workers) then imports that folder's modules in place of libraries of the same name: a
    ``tests/billing/limits.py`` stood in for the ``limits`` library there, and the workers died
    at start in whichever test process had run a billing test first."""
    loose = sorted(
        folder.relative_to(TESTS).as_posix()
        for folder in {path.parent for path in TESTS.rglob("*.py")}
        if not (folder / "__init__.py").exists()
    )
    assert loose == []


def test_no_test_module_is_named_like_a_top_level_module() -> None:
    """A test module named like an installed library shadows it wherever its folder is on
    ``sys.path`` (a script run from there, a tool that adds it)."""
    import importlib.util

    clashes = sorted(
        path.relative_to(TESTS).as_posix()
        for path in TESTS.rglob("*.py")
        if path.stem not in {"__init__", "conftest"}
        and (spec := importlib.util.find_spec(path.stem)) is not None
        and spec.origin is not None
        and TESTS not in Path(spec.origin).parents
    )
    assert clashes == []
