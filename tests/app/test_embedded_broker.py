"""The embedded broker (no `FLINT_BROKER_URL`): kombu's SQLAlchemy transport on a SQLite file
in the data dir, through Flint's subclass of it that looks for messages ten times a second
(kombu's own waits a second between looks, which every job sent to an idle embedded worker
waited out: half a second on average)."""

from __future__ import annotations

from pathlib import Path

from kombu import Connection
from kombu.transport import sqlalchemy as kombu_sqlalchemy

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
