"""A real API server (uvicorn) over a seeded SQLite store with a silences file."""

import time
from contextlib import contextmanager

from alertflow.schemas.config_analytics import AnalyticsConfig
from alertflow.store.engine import open_store
from alertflow.store.writer import StoreWriter

from tests.api.records import MIN, alert, incident

TEAMS = AnalyticsConfig(teams={"db": "storage"})


def seed(engine) -> None:
    """Incidents with versions and ranked causes (opened in the last hours), and three weeks of
    alerts for the analytics charts: HighLatency flaps (4 notifications of one alert).

    Teams: HighLatency and ErrorRate carry a ``team`` label (web, payments); DiskFull on db
    has none and gets storage from :data:`TEAMS`."""
    base = (time.time_ns() // MIN) * MIN - 3 * 60 * MIN
    rows = [
        ("incidents", incident(1, services=("checkout", "payments"), opened=base)),
        ("incidents", incident(1, version=2, status="updated",
                               services=("checkout", "payments", "db"), opened=base)),
        ("incidents", incident(2, services=("search",), severity="warning",
                               opened=base + 40 * MIN)),
        ("incidents", incident(3, status="resolved", services=("auth",), severity="info",
                               opened=base + 90 * MIN)),
    ]
    chain = incident(4, services=("checkout", "payments", "db"), opened=base + 100 * MIN)
    chain["root_causes"] = [  # the ranking's own topology evidence: checkout → payments → db
        {"service": "db", "score": 0.82, "evidence": ["its dependencies are healthy (disk)"]},
        {"service": "payments", "score": 0.41,
         "evidence": ["depends on db, also failing: likely a symptom"]},
        {"service": "checkout", "score": 0.2,
         "evidence": ["depends on payments, also failing: likely a symptom"]},
    ]
    StoreWriter(engine).write([*rows, ("incidents", chain)])
    day = 24 * 60 * MIN
    alerts = [alert("fp1", starts=base + k * 5 * MIN, team="web") for k in range(4)]
    alerts += [alert("fp2", "DiskFull", starts=base - day, service="db")]
    alerts += [alert(f"fp3{k}", "ErrorRate", starts=base - k * day, service="payments",
                     team="payments") for k in (2, 4, 9, 16)]
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
    ctx = ApiContext(engine, QueueChannel(queues), silences_file=tmp_path / "silences.json",
                     analytics=TEAMS)
    ctx.flow_running.set()
    server = ApiServer(create_app(ctx)).start()
    try:
        yield server, ctx
    finally:
        server.stop()
        engine.dispose()
