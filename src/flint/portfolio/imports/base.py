"""What every import format gives: Flint's transactions, each with the name its problems are
reported under, and the source's own id for it where the format has one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flint.portfolio.schemas import TransactionIn


class ImportRefused(Exception):
    """The file is not imported; ``problems`` are ``(where, why)`` pairs, ``where`` naming the
    row (``line 7``, ``line 7.price``) or the element (``STMTTRN[3].TRNAMT``), or ``body``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {why}" for where, why in problems))
        self.problems = problems


@dataclass
class Parsed:
    """A file's rows as transactions, in the file's order."""

    entries: list[TransactionIn] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    """Each entry's name in the file (``line 7``), for the problems the ledger's rules find."""
    ids: list[str | None] = field(default_factory=list)
    """Each entry's id in its source (a broker's trade or transaction id), when it has one."""
    preset: str = ""
    """The preset that read the file (`imports.parse` says: ``auto`` names the one it chose)."""

    def add(self, entry: TransactionIn, label: str, source_id: str | None = None) -> None:
        self.entries.append(entry)
        self.labels.append(label)
        self.ids.append(source_id)


@dataclass(frozen=True)
class Preset:
    """One format: ``parse`` reads a file (raising `ImportRefused` with every problem it finds,
    all rows or none), ``recognises`` tells from its first bytes whether a file is of it (for
    ``preset=auto``)."""

    name: str
    title: str
    parse: Callable[[bytes], Parsed]
    recognises: Callable[[bytes], bool]
