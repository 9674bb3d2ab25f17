"""The simulated estate: services in three tiers and a call graph that is a DAG.

Frontends call backends, backends call later backends and datastores, and
datastores call nothing, so faults can only travel upstream towards users.
Every service has at least one caller except frontends, which keeps the whole
graph reachable from user traffic.
"""

import random
from dataclasses import dataclass
from typing import Literal

Tier = Literal["frontend", "backend", "datastore"]

_FRONTENDS = ("frontend", "api-gateway", "mobile-bff", "admin-ui", "partner-api")
_BACKENDS = (
    "checkout", "cart", "catalog", "payments", "shipping", "users", "search",
    "recommendations", "pricing", "inventory", "orders", "auth", "notifications",
    "reviews", "ads", "currency", "loyalty", "fraud-check",
)  # fmt: skip
_DATASTORES = (
    "postgres-orders", "redis-cart", "mysql-users", "elasticsearch", "kafka",
    "mongodb-catalog", "redis-sessions", "postgres-payments", "memcached",
)  # fmt: skip
_NAMESPACES: dict[Tier, str] = {"frontend": "web", "backend": "shop", "datastore": "data"}
_REGIONS = ("eu-west", "us-east", "ap-south", "us-west", "eu-central", "sa-east")
# Hour of day (UTC) at which each region's traffic peaks.
_PEAK_HOUR = {"eu": 14.0, "us": 19.0, "ap": 7.0, "sa": 20.0}


@dataclass(frozen=True, slots=True)
class Service:
    """One deployable service; ``operations`` are the names its server spans carry."""

    name: str
    tier: Tier
    namespace: str
    operations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Topology:
    """Services in call order (callers before callees) and the caller -> callee edges."""

    services: tuple[Service, ...]
    edges: tuple[tuple[str, str], ...]
    clusters: tuple[str, ...]
    calls_per_request: dict[tuple[str, str], float]
    callees: dict[str, tuple[str, ...]]
    callers: dict[str, tuple[str, ...]]
    index: dict[str, int]

    @property
    def names(self) -> list[str]:
        """Service names in call order."""
        return [service.name for service in self.services]

    def in_tier(self, *tiers: Tier) -> list[Service]:
        """The services of the given tiers, in call order."""
        return [service for service in self.services if service.tier in tiers]


def cluster_peak_hour(cluster: str) -> float:
    """The UTC hour at which a cluster's users are busiest, from its region name."""
    for prefix, hour in _PEAK_HOUR.items():
        if f"-{prefix}-" in cluster:
            return hour
    return 15.0


def _cluster_names(count: int) -> tuple[str, ...]:
    return tuple(
        f"prod-{_REGIONS[i % len(_REGIONS)]}-{i // len(_REGIONS) + 1}" for i in range(count)
    )


def _pick_names(rng: random.Random, pool: tuple[str, ...], count: int) -> list[str]:
    """Sample distinct names, numbering repeats once the pool runs out."""
    names = rng.sample(pool, min(count, len(pool)))
    round_no = 2
    while len(names) < count:
        names += [f"{name}-{round_no}" for name in pool[: count - len(names)]]
        round_no += 1
    return names


def _operations(rng: random.Random, name: str, tier: Tier) -> tuple[str, ...]:
    base = name.split("-")[0]
    if tier != "datastore":
        resource = "" if tier == "frontend" and rng.random() < 0.5 else base
        routes = (f"GET /{resource}", f"POST /{resource}", f"GET /{resource}/{{id}}")
        return tuple(rng.sample(routes, 2))
    parts = name.split("-")
    table = parts[1] if len(parts) > 1 else base
    by_engine = {
        "postgres": (f"SELECT {table}", f"INSERT {table}", f"UPDATE {table}"),
        "mysql": (f"SELECT {table}", f"UPDATE {table}"),
        "redis": ("GET", "SET", "HGETALL"),
        "memcached": ("get", "set"),
        "mongodb": (f"find {table}", f"aggregate {table}"),
        "elasticsearch": ("POST /_search", "GET /_doc/{id}"),
        "kafka": ("publish orders", "publish events"),
    }
    return by_engine.get(base, ("query",))


def _tier_sizes(total: int) -> tuple[int, int, int]:
    frontends = max(1, round(total * 0.17))
    datastores = max(1, round(total * 0.3))
    return frontends, total - frontends - datastores, datastores


def _wire(
    rng: random.Random, front: list[str], mid: list[str], data: list[str]
) -> list[tuple[str, str]]:
    """Draw edges so that every non-frontend service has at least one caller."""
    edges: dict[tuple[str, str], None] = {}
    first_hop = mid or data
    for caller in front:
        for callee in rng.sample(first_hop, min(len(first_hop), rng.randint(2, 3))):
            edges[(caller, callee)] = None
    for i, caller in enumerate(mid):
        later = mid[i + 1 :]
        for callee in rng.sample(later, min(len(later), rng.choice((0, 1, 1, 2)))):
            edges[(caller, callee)] = None
        if data and rng.random() < 0.85:
            for callee in rng.sample(data, min(len(data), rng.choice((1, 1, 2)))):
                edges[(caller, callee)] = None
    for callee in mid + data:
        if any(edge[1] == callee for edge in edges):
            continue
        possible = front + mid[: mid.index(callee)] if callee in mid else mid or front
        edges[(rng.choice(possible), callee)] = None
    return list(edges)


def build_topology(rng: random.Random, services: int, clusters: int) -> Topology:
    """Draw a call graph of ``services`` services deployed identically in ``clusters`` clusters."""
    n_front, n_mid, n_data = _tier_sizes(services)
    front = _pick_names(rng, _FRONTENDS, n_front)
    mid = _pick_names(rng, _BACKENDS, n_mid)
    data = _pick_names(rng, _DATASTORES, n_data)
    tiers: list[tuple[Tier, list[str]]] = [
        ("frontend", front),
        ("backend", mid),
        ("datastore", data),
    ]
    catalog = tuple(
        Service(name, tier, _NAMESPACES[tier], _operations(rng, name, tier))
        for tier, names in tiers
        for name in names
    )
    index = {service.name: i for i, service in enumerate(catalog)}
    edges = sorted(_wire(rng, front, mid, data), key=lambda e: (index[e[0]], index[e[1]]))
    return Topology(
        services=catalog,
        edges=tuple(edges),
        clusters=_cluster_names(clusters),
        calls_per_request={edge: round(rng.uniform(0.4, 2.0), 2) for edge in edges},
        callees={s.name: tuple(b for a, b in edges if a == s.name) for s in catalog},
        callers={s.name: tuple(a for a, b in edges if b == s.name) for s in catalog},
        index=index,
    )
