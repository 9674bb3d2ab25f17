"""Run ``alertflow run`` as one process of a StatefulSet-sized Bytewax cluster.

A Bytewax cluster has a fixed size: every process is started with the address of
every other. When KEDA (or a person) changes the StatefulSet's ``replicas``, the
running processes must stop, snapshot, and start again at the new size; the new
cluster resumes from the shared recovery directory. This wrapper does that: it
reads ``replicas`` from the Kubernetes API, starts ``alertflow run -i ORDINAL -a
...`` with that many addresses, polls ``replicas``, and on a change sends the job
SIGTERM (a clean stop: the batch in hand is written and snapshotted) and exits,
so the kubelet restarts the container at the new size.

    python -m alertflow.dataflows.k8s_cluster -- --config /etc/alertflow/alertflow.yaml
"""

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

_SA = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def pod_ordinal(pod_name: str) -> int:
    """The ordinal a StatefulSet put at the end of its pod's name.

    >>> pod_ordinal("alertflow-3")
    3
    """
    head, _, ordinal = pod_name.rpartition("-")
    if not head or not ordinal.isdigit():
        raise ValueError(f"pod name {pod_name!r} does not end in -<ordinal>")
    return int(ordinal)


def addresses(statefulset: str, service: str, port: int, processes: int) -> str:
    """Every process's host:port, in process id order, as ``alertflow run -a`` takes them.

    >>> addresses("alertflow", "alertflow", 2101, 2)
    'alertflow-0.alertflow:2101;alertflow-1.alertflow:2101'
    """
    return ";".join(f"{statefulset}-{i}.{service}:{port}" for i in range(processes))


class ReplicaSource:
    """Reads a StatefulSet's ``spec.replicas`` from the Kubernetes API."""

    def __init__(self, api: str, namespace: str, name: str, token: str, ca_file: Path | None):
        self.url = f"{api}/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"
        self.token = token
        self.context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None

    @classmethod
    def in_cluster(cls, name: str) -> "ReplicaSource":
        """From the pod's service account, as every pod gets it."""
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        return cls(
            f"https://{host}:{port}",
            (_SA / "namespace").read_text().strip(),
            name,
            (_SA / "token").read_text().strip(),
            _SA / "ca.crt",
        )

    def replicas(self) -> int:
        """The StatefulSet's desired size now."""
        request = urllib.request.Request(  # noqa: S310 (the API server's https URL)
            self.url, headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10, context=self.context) as response:  # noqa: S310
            body: dict[str, Any] = json.load(response)
        return int(body["spec"]["replicas"])


def supervise(job: list[str], source: ReplicaSource, started_at: int, poll_s: float) -> int:
    """Run ``job``; stop it when the size changes from ``started_at``; return its exit code."""
    child = subprocess.Popen(job)
    forward = lambda signum, _frame: child.send_signal(signum)  # noqa: E731
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    while child.poll() is None:
        time.sleep(poll_s)
        try:
            now = source.replicas()
        except (OSError, ValueError, KeyError) as exc:  # the API blinking is no reason to stop
            print(f"alertflow-k8s: cannot read replicas: {exc}", file=sys.stderr)
            continue
        if now != started_at and child.poll() is None:
            print(
                f"alertflow-k8s: replicas {started_at} -> {now}: stopping to restart at the "
                "new size",
                file=sys.stderr,
            )
            child.send_signal(signal.SIGTERM)
            child.wait()
            return 0 if child.returncode == 0 else child.returncode
    return child.returncode


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m alertflow.dataflows.k8s_cluster [options] -- RUN-ARGS``."""
    parser = argparse.ArgumentParser(prog="alertflow-k8s", description=__doc__.splitlines()[0])
    parser.add_argument("--statefulset", default=os.environ.get("ALERTFLOW_STATEFULSET"))
    parser.add_argument("--service", default=os.environ.get("ALERTFLOW_SERVICE"))
    parser.add_argument("--port", type=int, default=2101, help="cluster port (default: 2101)")
    parser.add_argument("--poll-s", type=float, default=15.0, help="size check interval")
    parser.add_argument("run_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    statefulset = args.statefulset or "alertflow"
    source = ReplicaSource.in_cluster(statefulset)
    size = source.replicas()
    ordinal = pod_ordinal(os.environ.get("POD_NAME") or os.environ["HOSTNAME"])
    if ordinal >= size:  # a pod started just before a scale-down took effect
        print(f"alertflow-k8s: ordinal {ordinal} is outside a cluster of {size}", file=sys.stderr)
        return 1
    run_args = [a for a in args.run_args if a != "--"]
    peers = addresses(statefulset, args.service or statefulset, args.port, size)
    job = [
        sys.executable, "-m", "alertflow.dataflows.cli", "run", *run_args,
        "-i", str(ordinal), "-a", peers,
    ]  # fmt: skip
    return supervise(job, source, size, args.poll_s)


if __name__ == "__main__":
    sys.exit(main())
