"""The runtime of a performance process (`flint.portfolio.workers`): a read-only engine on the
API's database and the packaged instruments. Apart from `runtime` so that a process started for
it imports only what it uses (`build_runtime(settings, "performance")` answers the same)."""

from __future__ import annotations

from flint.config import Settings
from flint.db import READ_ONLY, create_engine, create_sessionmaker
from flint.market.api import load_universe
from flint.portfolio.symbols import Instruments
from flint.runtime import Runtime


def build(settings: Settings) -> Runtime:
    # Reading only: on SQLite a deferred transaction, which never waits for the API's writers.
    engine = create_engine(settings.resolved_database_url).execution_options(**READ_ONLY)
    runtime = Runtime(settings, "performance", engine, create_sessionmaker(engine))
    universe: Instruments = load_universe()  # what a symbol is, without providers
    runtime.add(universe, kind=Instruments)
    return runtime
