"""The `flint` command: serve, migrate, openapi, worker, beat, run (all of them together),
backfill and demo."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flint.kit.heap import collector_paused

if TYPE_CHECKING:
    import httpx

    from flint.config import Settings

app = typer.Typer(help="Flint: a self-hostable backend for personal finance and investing.")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WORKER_NICENESS = 10
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _alembic_config() -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply database migrations (SQLite or PostgreSQL, from FLINT_DATABASE_URL)."""
    with collector_paused():
        from alembic import command

        import flint.app.models  # noqa: F401  (what the migrations' env imports)
        from flint.config import get_settings

    settings = get_settings()
    settings.ensure_data_dir()
    command.upgrade(_alembic_config(), revision)  # type: ignore[arg-type]
    typer.echo(f"Database at {revision}: {_redacted(settings.resolved_database_url)}")


def _wait_until_migrated(url: str, timeout: float = 300) -> None:
    """Return once the database's revision is the newest one (another process migrates it)."""
    import asyncio
    import time

    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from flint.db import READ_ONLY, create_engine

    heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())  # type: ignore[arg-type]

    async def current() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.execution_options(**READ_ONLY).connect() as conn:
                found: set[str] = set(
                    await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
                )
                return found
        finally:
            await engine.dispose()

    deadline = time.monotonic() + timeout
    while asyncio.run(current()) != heads:
        if time.monotonic() > deadline:
            typer.echo(f"the database did not reach {sorted(heads)} in {timeout:.0f} s", err=True)
            raise typer.Exit(1)
        time.sleep(0.25)


def _share_metrics(data_dir: Path) -> Path:
    """Before this process (or a child) imports prometheus-client: the directory every Flint
    process of this start writes its metrics to, so `GET /metrics` sums them. One given in
    PROMETHEUS_MULTIPROC_DIR (by `flint run`, or an operator) is used as it is; otherwise
    `data_dir/metrics` is emptied (counts of an earlier run are not summed into this one) and
    exported to this process and its children."""
    from flint.kit.files import private_dir

    given = os.environ.get(METRICS_DIR_ENV)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        return Path(given)
    path = (data_dir / "metrics").resolve()
    shutil.rmtree(path, ignore_errors=True)
    private_dir(path)
    os.environ[METRICS_DIR_ENV] = str(path)
    return path


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Defaults to FLINT_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Defaults to FLINT_PORT")] = None,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes")] = False,
    migrate_first: Annotated[
        bool, typer.Option("--migrate", help="Apply the migrations before serving")
    ] = False,
    graceful_timeout: Annotated[
        int,
        typer.Option(
            min=0, help="On SIGTERM, seconds in-flight requests get to finish (then cancelled)"
        ),
    ] = 30,
) -> None:
    """Start the HTTP API. SIGTERM stops accepting connections, lets the requests in flight
    finish (at most --graceful-timeout seconds; a deployment's stop timeout must be longer),
    closes WebSockets, then exits. With --workers, a supervisor passes SIGTERM to each."""
    with collector_paused():
        import uvicorn

        import flint.app.main  # noqa: F401  (what uvicorn imports for the app of one process)
        from flint.config import get_settings

    settings = get_settings()
    _share_metrics(settings.ensure_data_dir())
    if migrate_first:  # in this process: the API imports what migrating needs anyway
        import structlog
        from alembic import command

        from flint.kit.logging import configure_logging

        configure_logging(settings.log_level, settings.log_format)
        settings.ensure_data_dir()
        command.upgrade(_alembic_config(), "head")  # type: ignore[arg-type]
        structlog.get_logger("flint.migrate").info(
            "database migrated",
            revision="head",
            database=_redacted(settings.resolved_database_url),
        )
    uvicorn.run(
        "flint.app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        log_config=None,
        timeout_graceful_shutdown=graceful_timeout,
        **uvicorn_options(settings),
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the API whatever the address: the client address and scheme are
    taken from `X-Forwarded-For`/`-Proto` of ``FLINT_FORWARDED_ALLOW_IPS`` proxies only, and
    no `server: uvicorn` banner tells a scanner what to try."""
    return {
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,
    }


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Worker processes (default: cores)")
    ] = None,
    pool: Annotated[str, typer.Option(help="prefork, threads or solo")] = "prefork",
    beat: Annotated[
        bool, typer.Option(help="Also run the periodic scheduler in this process")
    ] = False,
    loglevel: Annotated[str, typer.Option()] = "INFO",
    queues: Annotated[
        str | None, typer.Option(help="Comma-separated (default FLINT_TASK_QUEUE)")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Celery node name (default flint-<pid>@<host>)")
    ] = None,
    wait_migrated: Annotated[
        bool, typer.Option(help="Take no task until the database is at the newest migration")
    ] = False,
) -> None:
    """Start a Celery worker (FLINT_BROKER_URL; unset: the server-less SQLite transport)."""
    from flint.config import get_settings

    settings = get_settings()
    _share_metrics(settings.ensure_data_dir())
    with collector_paused():
        from flint.app.worker import configure  # after the line above: it counts tasks

    celery_app = configure(settings)
    if wait_migrated:
        _wait_until_migrated(settings.resolved_database_url)
    argv = [
        "--quiet",  # no banner: every line the worker prints is a JSON log record
        "worker",
        f"--pool={pool}",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
        # Unique per process: two workers on one host named alike fight over the broker's
        # exclusive remote-control queue (RabbitMQ answers RESOURCE_LOCKED).
        f"--hostname={name or f'flint-{os.getpid()}@%h'}",
    ]
    argv.append(f"--queues={queues or settings.task_queue}")
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if beat:
        argv += ["--beat", f"--schedule={settings.ensure_data_dir() / 'beat-schedule'}"]
    celery_app.worker_main(argv)


@app.command()
def beat(loglevel: Annotated[str, typer.Option()] = "INFO") -> None:
    """Start the periodic scheduler (run exactly one in a deployment)."""
    with collector_paused():
        from flint.app.worker import configure
        from flint.config import get_settings

    settings = get_settings()
    schedule = settings.ensure_data_dir() / "beat-schedule"
    configure(settings).start(
        ["--quiet", "beat", f"--loglevel={loglevel}", f"--schedule={schedule}"]
    )


@app.command()
def run() -> None:
    """Migrate, then run the API, one worker and the scheduler together; Ctrl-C stops all three.
    Prints the docs' address once the API answers, and with FLINT_DEMO=1 the demo user's
    email and password once `flint demo` has made it."""
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from flint.config import get_settings

    settings = get_settings()
    _share_metrics(settings.ensure_data_dir())  # one directory for the children's metrics
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    # Before the children start: a signal in between would end this process and orphan them.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    me = [sys.executable, "-m", "flint.app.cli"]
    names = ["worker", "api"]
    # The API migrates before it serves; the worker starts alongside at a lower priority (the
    # API's start comes first) and takes no task before the migrations are in.
    children = [
        subprocess.Popen(  # noqa: S603
            [*me, "worker", "--pool=solo", "--beat", "--loglevel=WARNING", "--wait-migrated"],
            preexec_fn=lambda: os.nice(WORKER_NICENESS),
        ),
        subprocess.Popen([*me, "serve", "--migrate"]),  # noqa: S603
    ]
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(
        f"Flint is starting on {base} (data in {settings.data_dir.resolve()}). Ctrl-C stops it."
    )
    code = 0
    answered = False
    demo: subprocess.Popen[bytes] | None = None
    # One client for every poll: each client reads the CA bundle again (30-40 ms of CPU).
    http = httpx.Client(timeout=1)
    while not stopping:
        exited = [
            (name, c) for name, c in zip(names, children, strict=True) if c.poll() is not None
        ]
        if exited:
            name, child = exited[0]
            code = child.returncode or 1
            typer.echo(f"flint {name} exited with {child.returncode}; stopping", err=True)
            break
        if not answered and _answers(http, f"{base}/healthz"):
            answered = True
            typer.echo(f"Flint is ready: open {settings.resolved_public_url}/docs")
            if settings.demo:
                typer.echo("Making the demo user (FLINT_DEMO is on)...")
                # Its credentials, or why it failed, are its own output.
                demo = subprocess.Popen([*me, "demo"])  # noqa: S603
        time.sleep(0.5)
    http.close()
    stopped = [c for c in [demo, *children] if c is not None and c.poll() is None]
    for child in stopped:
        child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in stopped:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    raise typer.Exit(code)


def _answers(http: httpx.Client, url: str) -> bool:
    import httpx

    try:
        return http.get(url).status_code == 200
    except httpx.HTTPError:
        return False


@app.command()
def backfill(
    symbols: Annotated[list[str], typer.Argument(help="Symbols, e.g. AAPL BTC-USD EURUSD=X")],
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD); default a year ago")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD); default today")] = None,
) -> None:
    """Store the daily history of SYMBOLS that the database lacks (from the configured
    providers, in one bulk write), so later requests and analytics read it locally."""
    import asyncio
    from datetime import date

    from flint.kit.symbols import normalize_symbol
    from flint.kit.time import utcnow, year_before

    try:  # before the application is imported: a mistyped date is refused at once
        wanted = [normalize_symbol(symbol) for symbol in symbols]
        last = date.fromisoformat(end) if end else utcnow().date()
        first = date.fromisoformat(start) if start else year_before(last)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    with collector_paused():
        from flint.app.runtime import build_runtime
        from flint.config import get_settings
        from flint.db import commit
        from flint.errors import FlintError
        from flint.market.api import MarketData

    settings = get_settings()

    async def run() -> dict[str, int]:
        runtime = build_runtime(settings, "cli")
        try:
            async with runtime.sessions() as session:
                written = await runtime.get(MarketData).backfill(session, wanted, first, last)
                await commit(session)
                return written
        finally:
            await runtime.aclose()

    try:
        written = asyncio.run(run())
    except FlintError as exc:
        typer.echo(f"backfill failed: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    for symbol, count in written.items():
        typer.echo(f"{symbol}\t{count} bars stored")


@app.command()
def demo() -> None:
    """Create the demo user (or complete it: a second run adds nothing that is there) and
    print its email and password: a linked sandbox bank and brokerage, a watchlist, price
    alerts, two portfolios (one following the brokerage, one with three years of imported
    history), a finished PDF report and notifications. Migrates the database first."""
    with collector_paused():
        from alembic import command

        from flint.app.demo import DemoFailed, credentials_banner, run_demo
        from flint.config import get_settings
        from flint.kit.logging import configure_logging

    # The demo's own requests and jobs are not news: only warnings and errors are printed.
    settings = get_settings().model_copy(update={"log_level": "WARNING"})
    settings.ensure_data_dir()
    configure_logging(settings.log_level, settings.log_format)
    command.upgrade(_alembic_config(), "head")  # type: ignore[arg-type]
    try:
        user = run_demo(settings)
    except DemoFailed as exc:
        typer.echo(f"flint demo failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:  # Ctrl-C: what was made stays; a next run completes it
        raise typer.Exit(130) from None
    typer.echo(credentials_banner(user, f"{settings.resolved_public_url}/docs"))


@app.command()
def openapi(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file")] = None,
) -> None:
    """Print the OpenAPI document (touches no database and leaves no data directory behind)."""
    import tempfile

    with collector_paused():
        from flint.app.main import create_app
        from flint.config import get_settings

    with tempfile.TemporaryDirectory(prefix="flint-openapi-") as scratch:
        settings = get_settings().model_copy(update={"data_dir": Path(scratch)})
        spec = json.dumps(create_app(settings).openapi(), indent=2)
    if output:
        output.write_text(spec + "\n")
    else:
        typer.echo(spec)


if __name__ == "__main__":
    app()
