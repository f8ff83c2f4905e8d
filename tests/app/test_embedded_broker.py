"""The embedded broker (no `FLINT_BROKER_URL`): kombu's SQLAlchemy transport on a SQLite file
in the data dir, through Flint's subclass of it that looks for messages ten times a second
(kombu's own waits a second between looks, which every job sent to an idle embedded worker
waited out: half a second on average), and that answers the worker's waits for messages
within `jobs.DRAIN_SECONDS`, so a worker told to stop stops at once."""

from __future__ import annotations

import socket
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from sqlalchemy import Engine, event
from structlog.testing import capture_logs

from flint import jobs
from flint.config import Settings


def test_the_embedded_broker_polls_often_and_carries_messages(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, broker_url=None)
    url = jobs.broker_url(settings)
    assert url == f"flint-sqla+sqlite:///{(tmp_path / 'broker.db').resolve()}"
    jobs.prepare_broker(settings)
    with Connection(url) as sender, Connection(url) as receiver:
        transport = receiver.transport
        assert isinstance(transport, jobs.EmbeddedTransport)
        assert transport.polling_interval <= 0.1 < kombu_sqlalchemy.Transport.polling_interval
        outbox = sender.SimpleQueue("flint-test-embedded")
        inbox = receiver.SimpleQueue("flint-test-embedded")
        outbox.put({"job": "one"})
        message = inbox.get(timeout=5)
        assert message.payload == {"job": "one"}
        message.ack()
        outbox.close()
        inbox.close()
    assert (tmp_path / "broker.db").stat().st_mode & 0o077 == 0  # owner-only, as before


def test_the_celery_app_publishes_to_the_embedded_transport(tmp_path: Path) -> None:
    app = jobs.create_celery(Settings(data_dir=tmp_path, broker_url=None))
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, jobs.EmbeddedTransport)


def test_a_wait_for_messages_ends_soon_so_a_worker_told_to_stop_stops_at_once(
    tmp_path: Path,
) -> None:
    """Celery's worker loop asks the transport to wait 2 s for a message and looks at its stop
    flag only between waits: the demo's worker, or ``make run``'s on Ctrl-C, took 2-4 s to
    stop. A wait now ends within `jobs.DRAIN_SECONDS` (a message still arrives)."""
    settings = Settings(data_dir=tmp_path, broker_url=None)
    jobs.prepare_broker(settings)
    url = jobs.broker_url(settings)
    with Connection(url) as receiver, Connection(url) as sender:
        inbox = receiver.SimpleQueue("flint-test-drain")
        started = time.monotonic()
        with pytest.raises(socket.timeout):
            receiver.drain_events(timeout=2.0)
        assert time.monotonic() - started < 1.0
        sender.SimpleQueue("flint-test-drain").put({"job": "two"})
        message = inbox.get(timeout=5)
        assert message.payload == {"job": "two"}
        message.ack()
        inbox.close()


def _visible(path: Path) -> list[int]:
    """The broker file's message rows, each as its ``visible`` flag (1: not yet delivered)."""
    with closing(sqlite3.connect(path)) as broker:
        rows = broker.execute("SELECT visible FROM kombu_message ORDER BY id").fetchall()
    return [int(visible) for (visible,) in rows]


def test_a_delivered_message_leaves_no_row_behind(tmp_path: Path) -> None:
    """kombu marks a delivered message invisible and keeps it: the beat schedule's 12,000 jobs
    a day stayed in the broker file, and each look for a message (ten a second) scanned them
    all (40 ms a look after a week). Delivered messages are deleted; one still waiting stays."""
    settings = Settings(data_dir=tmp_path, broker_url=None)
    jobs.prepare_broker(settings)
    url = jobs.broker_url(settings)
    with Connection(url) as sender, Connection(url) as receiver:
        outbox = sender.SimpleQueue("flint-test-kept")
        inbox = receiver.SimpleQueue("flint-test-kept")
        for number in range(5):
            outbox.put({"job": number})
        for number in range(4):
            message = inbox.get(timeout=5)
            assert message.payload == {"job": number}
            message.ack()
        waiting = _visible(tmp_path / "broker.db")
        last = inbox.get(timeout=5)
        assert last.payload == {"job": 4}
        last.ack()
        outbox.close()
        inbox.close()
    assert waiting == [1]
    assert _visible(tmp_path / "broker.db") == []


def test_an_idle_look_for_messages_runs_no_statement_and_takes_no_lock(tmp_path: Path) -> None:
    """kombu's look for a message takes SQLite's write lock and runs two queries, ten times a
    second per queue, and finds nothing nearly always: an idle embedded worker used 2.8 % of a
    core. A queue found empty is looked into again only once something has been committed to
    the broker file; a message another connection sends then arrives at the next look."""
    settings = Settings(data_dir=tmp_path, broker_url=None)
    jobs.prepare_broker(settings)
    url = jobs.broker_url(settings)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with Connection(url) as receiver, Connection(url) as sender:
        inbox = receiver.SimpleQueue("flint-test-idle")
        outbox = sender.SimpleQueue("flint-test-idle")
        channel = inbox.channel
        engine = channel.session.bind
        event.listen(engine, "before_cursor_execute", record)
        try:
            with pytest.raises(Empty):  # the first look finds the queue empty
                channel._get("flint-test-idle")
            looked = len(statements)
            for _ in range(50):
                with pytest.raises(Empty):
                    channel._get("flint-test-idle")
            idle = statements[looked:]
            outbox.put({"job": "three"})
            message = inbox.get(timeout=1)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert looked > 0  # kombu's own look, as before
        assert idle == []
        assert message.payload == {"job": "three"}
        message.ack()
        inbox.close()
        outbox.close()


def test_a_warmed_app_sends_its_first_job_as_it_sends_every_other(tmp_path: Path) -> None:
    """The API's first job after a start made the broker's channel, tables and queue on the
    thread sending it (50-70 ms of CPU holding the interpreter lock the event loop needs);
    `jobs.warm_sending` makes them as the API starts, so that send only writes its message."""
    settings = Settings(data_dir=tmp_path, broker_url=None)
    jobs.prepare_broker(settings)
    app = jobs.create_celery(settings)
    jobs.warm_sending(app)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()[:3]))

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        app.send_task("flint.test.warm")
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert [s for s in statements if not s.startswith("SELECT kombu_queue.id")] == [
        "INSERT INTO kombu_message"
    ]
    with closing(sqlite3.connect(tmp_path / "broker.db")) as broker:
        assert broker.execute("SELECT count(*) FROM kombu_message").fetchone() == (1,)


def test_a_broker_that_cannot_be_warmed_leaves_it_to_the_first_send(tmp_path: Path) -> None:
    """Warming is not a condition of starting: a broker file that cannot be opened is logged,
    and the first send meets (and reports) the same failure as it did before."""
    (tmp_path / "broker.db").mkdir()  # a directory where the file should be
    app = jobs.create_celery(Settings(data_dir=tmp_path, broker_url=None))
    with capture_logs() as logs:
        jobs.warm_sending(app)
    assert [entry["event"] for entry in logs] == ["task_sending_not_warmed"]
    with pytest.raises(Exception, match="unable to open database file"):
        app.send_task("flint.test.warm", retry=False)


def test_a_queue_another_process_declared_meanwhile_is_taken_as_it_is(tmp_path: Path) -> None:
    """The API, the worker and beat each declare their queues as they start, on one broker file.
    kombu looks for the queue, then inserts it under a lock of its own process only: when
    another process inserted the same queue in between, the unique name refused the insert with
    an IntegrityError kombu does not catch, and `make run`'s worker stopped at start (seen once
    in CI under load). Here the other process's insert lands just before this one's commit."""
    settings = Settings(data_dir=tmp_path, broker_url=None)
    jobs.prepare_broker(settings)
    with Connection(jobs.broker_url(settings)) as connection:
        channel: Any = connection.default_channel
        channel._get_or_create("flint-test-warm")  # kombu's tables exist from here on
        other = sqlite3.connect(tmp_path / "broker.db")

        @event.listens_for(channel.session, "before_commit", once=True)
        def meanwhile(session: Any) -> None:
            other.execute("INSERT INTO kombu_queue (name) VALUES ('flint-test-raced')")
            other.commit()

        queue = channel._get_or_create("flint-test-raced")
        other.close()
        assert queue.name == "flint-test-raced"
        with closing(sqlite3.connect(tmp_path / "broker.db")) as reader:
            rows = reader.execute(
                "SELECT count(*) FROM kombu_queue WHERE name = 'flint-test-raced'"
            )
            assert rows.fetchone() == (1,)
        channel._put("flint-test-raced", {"job": "after the race"})
        assert channel._get("flint-test-raced") == {"job": "after the race"}
