"""Retention: delete what is older than N days."""

import sqlalchemy as sa
from alertflow.store import tables as t

_DAY_NS = 86_400 * 10**9


def prune(engine: sa.Engine, days: float, now_ns: int) -> dict[str, int]:
    """Delete records older than ``days`` before ``now_ns``; returns rows deleted per table.

    Incidents go with all their versions, members and actions once their last
    update is that old; open ones are kept whatever their age.
    """
    cutoff = now_ns - int(days * _DAY_NS)
    deleted: dict[str, int] = {}
    with engine.begin() as conn:
        for name, (table, column) in t.RETAINED.items():
            deleted[name] = conn.execute(table.delete().where(table.c[column] < cutoff)).rowcount
        c = t.incidents.c
        old = sa.select(c.incident_id).where(c.updated_ns < cutoff, c.status == "resolved")
        for table in (t.incident_versions, t.incident_members, t.incident_services,
                      t.incident_actions):
            conn.execute(table.delete().where(table.c.incident_id.in_(old)))
        deleted["incidents"] = conn.execute(
            t.incidents.delete().where(c.updated_ns < cutoff, c.status == "resolved")
        ).rowcount
    return deleted
