"""Issue 10's failure modes, one table each: a hand-made graph and alert sequence, the
expected incidents and top cause. Helpers are those of ``test_correlation_table``.
"""

import pytest

from operators.alert_clusters import AlertClusters, alert_words
from operators.correlator import DomainCorrelator
from operators.incidents import IncidentSettings
from schemas.records import AlertEvent
from tests.test_correlation_table import CHAIN, T0, S, alert, correlate, groups, latest

WEEK = 7 * 24 * 3600


def labelled(fp, start, status="firing", end=None, **labels):
    """An alert with exactly these labels (plus a cluster)."""
    return AlertEvent(
        fingerprint=fp,
        status=status,
        labels={"cluster": "c", "severity": "warning", **labels},
        annotations={},
        starts_ns=T0 + start * S,
        ends_ns=None if end is None else T0 + end * S,
        ref=f"alerts:{fp}:{status}:{start}",
    )


def top_causes(decisions) -> dict[str, str]:
    """First member id of each incident -> its top-ranked cause."""
    return {
        sorted(m.id for m in inc.members)[0]: (inc.root_causes[0].service if inc.root_causes else "")
        for inc in latest(decisions)
    }


# --------------------------------------------------------------------------- 8: bugs


@pytest.mark.parametrize(
    ("labels", "summary", "expected"),
    [
        pytest.param(
            {"alertname": "HighErrorRate", "service": "checkout-service"},
            "checkout-service is failing requests",
            {"high", "error", "rate", "is", "failing", "requests"},
            id="hyphenated-service-leaves-no-fragments",
        ),
        pytest.param(
            {"alertname": "HighErrorRate", "service": "auth_api", "namespace": "shop-prod"},
            "auth_api in shop-prod is failing requests",
            {"high", "error", "rate", "in", "is", "failing", "requests"},
            id="underscored-service-and-namespace-leave-no-fragments",
        ),
    ],
)
def test_alert_words_drop_where_the_alert_is(labels, summary, expected):
    assert alert_words(labels, {"summary": summary}) == frozenset(expected)


def test_one_alert_name_on_hyphenated_services_is_one_kind():
    clusters = AlertClusters(threshold=0.6)
    kinds = {
        clusters.assign(
            {"alertname": "HighErrorRate", "service": name},
            {"summary": f"{name} is failing requests"},
        )
        for name in ("checkout-service", "payment-gateway-v2", "cart", "user-profile-api")
    }
    assert len(kinds) == 1


@pytest.mark.parametrize(
    ("events", "expected_groups", "firing"),
    [
        pytest.param(
            [
                alert("1", "db", 0),
                alert("old", "api", -3 * WEEK),  # always firing, first seen now
                alert("1", "db", 0, "resolved", 600),
                alert("2", "web", 3 * 3600),
                alert("old", "api", -3 * WEEK),  # its re-send hours later
            ],
            [["1"], ["2"], ["old"]],
            {"old"},
            id="always-firing-alert-from-weeks-ago-does-not-expire-on-arrival",
        ),
    ],
)
def test_last_seen_is_arrival_not_start(events, expected_groups, firing):
    # In arrival order (no reordering), as a live stream delivers them.
    decisions = correlate(events, CHAIN, lateness_s=0.0, max_hops=0)
    assert groups(decisions) == expected_groups
    (old,) = [i for i in latest(decisions) if any(m.id == "old" for m in i.members)]
    assert {m.id for m in old.members if m.status == "firing"} == firing


def test_old_alert_seen_now_is_firing_until_its_horizon():
    settings = IncidentSettings(lateness_s=0.0)
    correlator = DomainCorrelator("c", settings)
    correlator.on_events([alert("now", "db", 0), alert("old", "api", -3 * WEEK)], wall_ns=0)
    member = correlator.grouper.incidents[correlator.grouper.by_fingerprint["old"]].members["old"]
    assert member.status == "firing"
    assert member.last_ns == T0
