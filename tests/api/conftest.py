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
