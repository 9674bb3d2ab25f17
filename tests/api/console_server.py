"""A real API server (uvicorn) over a seeded SQLite store with a silences file."""

from contextlib import contextmanager

from alertflow.store.engine import open_store
from alertflow.store.writer import StoreWriter

from tests.api.records import MIN, T0, alert, incident


def seed(engine) -> None:
    """Incidents with versions and ranked causes, and alerts for the analytics charts."""
    rows = [
        ("incidents", incident(1, services=("checkout", "payments"), severity="critical")),
        ("incidents", incident(1, version=2, status="updated", services=("checkout", "payments",
                                                                       "db"))),
        ("incidents", incident(2, services=("search",), severity="warning")),
        ("incidents", incident(3, status="resolved", services=("auth",), severity="info")),
    ]
    StoreWriter(engine).write(rows)
    day = 24 * 60 * MIN
    alerts = [alert("fp1", starts=T0 + k * 5 * MIN) for k in range(4)]
    alerts += [alert("fp2", "DiskFull", starts=T0 + day, service="db")]
    alerts += [alert("fp3", "ErrorRate", starts=T0 - day, service="payments") for _ in range(2)]
    StoreWriter(engine).write_alerts(alerts)


@contextmanager
def console_server(tmp_path, token: str):
    """Yield (server, ctx): the app with ``token`` as admin and silences in tmp_path."""
    from alertflow.api.app import create_app
    from alertflow.api.deps import ApiContext
    from alertflow.api.intake import QueueChannel
    from alertflow.operators.intake_queue import IntakeQueue
    from alertflow.store.tokens import seed_token

    from tests.api.servers import ApiServer

    engine = open_store(f"sqlite:///{tmp_path / 'console.db'}")
    seed_token(engine, token)
    seed(engine)
    queues = {s: IntakeQueue(s, maxsize=64) for s in ("alerts", "metrics", "logs", "feedback")}
    ctx = ApiContext(engine, QueueChannel(queues), silences_file=tmp_path / "silences.json")
    ctx.flow_running.set()
    server = ApiServer(create_app(ctx)).start()
    try:
        yield server, ctx
    finally:
        server.stop()
        engine.dispose()
