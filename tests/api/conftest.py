import itertools

import pytest
import sqlalchemy as sa
from alertflow.store.engine import open_store

from tests.api.servers import PostgresServer, postgres_bin, require_binary

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    bindir = require_binary(postgres_bin(), "PostgreSQL (initdb)", "postgresql")
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A migrated, empty store on each engine (a fresh database per test on PostgreSQL)."""
    if request.param == "sqlite":
        engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        server = request.getfixturevalue("postgres")
        name = f"t{next(_databases)}"
        admin = sa.create_engine(server.url.replace("postgresql://", "postgresql+psycopg://"),
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        admin.dispose()
        engine = open_store(server.url.rsplit("/", 1)[0] + f"/{name}")
    yield engine
    engine.dispose()


ADMIN = "admin-token-for-tests"


@pytest.fixture
def api(tmp_path):
    """The API on a real HTTP server over a SQLite store, intake into small in-process queues."""
    import httpx
    from alertflow.api.app import create_app
    from alertflow.api.deps import ApiContext
    from alertflow.api.intake import QueueChannel
    from alertflow.operators.intake_queue import IntakeQueue
    from alertflow.store.tokens import seed_token

    from tests.api.servers import ApiServer

    engine = open_store(f"sqlite:///{tmp_path / 'api.db'}")
    seed_token(engine, ADMIN)
    queues = {s: IntakeQueue(s, maxsize=8) for s in ("alerts", "metrics", "logs", "feedback")}
    ctx = ApiContext(engine, QueueChannel(queues), max_message_bytes=64 * 1024,
                     silences_file=tmp_path / "silences.json")
    ctx.flow_running.set()
    server = ApiServer(create_app(ctx)).start()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN}"},
                      timeout=30) as client:
        client.ctx = ctx
        client.queues = queues
        yield client
    server.stop()
    engine.dispose()
