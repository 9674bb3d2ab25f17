"""``alertflow serve``: the flow and the HTTP side in one process.

The flow runs in the main thread (it owns SIGTERM/SIGINT, as ``alertflow run``);
uvicorn serves the API from a thread. By default the HTTP intake feeds bounded
in-process queues that the flow reads (``queue://STREAM`` inputs); when the flow
reads Kafka topics, intake produces to those topics instead. A stop signal ends
the inputs, the flow drains into the store, then the HTTP side stops.
"""

import os
import socket
import threading
import time

import sqlalchemy as sa
import uvicorn
from alertflow.api.app import create_app
from alertflow.api.deps import ApiContext
from alertflow.api.intake import IntakeChannel, KafkaChannel, QueueChannel
from alertflow.dataflows import queue_source
from alertflow.dataflows.flow import build_flow
from alertflow.dataflows.runner import run
from alertflow.dataflows.serve_silences import with_silences_file
from alertflow.dataflows.sources import check_inputs
from alertflow.dataflows.store_sink import AlertStoreSink, StoreSink
from alertflow.dataflows.uris import KafkaLocation, parse_location
from alertflow.operators.intake_queue import IntakeQueue
from alertflow.schemas.config import INPUT_STREAMS, AlertflowConfig, ConfigError
from alertflow.schemas.serve_config import ADMIN_TOKEN_ENV, ServeConfig
from alertflow.store.engine import open_store
from alertflow.store.retention import prune
from alertflow.store.tokens import seed_token

HTTP_STREAMS = ("alerts", "metrics", "logs", "traces", "feedback")


def serve(settings: ServeConfig, config: AlertflowConfig) -> None:
    """Run until SIGTERM/SIGINT (or until bounded inputs end)."""
    engine = open_store(settings.store)
    token = os.environ.get(ADMIN_TOKEN_ENV)
    if token:
        seed_token(engine, token)
    channel, config = _intake(settings, config)
    config = with_silences_file(config, settings.store)
    ctx = ApiContext(
        engine,
        channel,
        store_kind=engine.dialect.name,
        max_message_bytes=config.intake.max_message_bytes,
        silences_file=config.notify.silences_file,
        analytics=config.analytics,
    )
    sock = _listen(settings.host, settings.port)
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), log_level="warning", lifespan="off", access_log=False)
    )
    http = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="alertflow-http")
    stop = threading.Event()
    http.start()
    if settings.retention_days is not None:
        days = settings.retention_days
        threading.Thread(target=_retain, args=(engine, days, stop), daemon=True).start()
    flow = build_flow(
        config,
        extra_sinks=(StoreSink(engine, ctx.flow_running),),
        alert_sinks=(AlertStoreSink(engine, config.analytics.team_label),),
    )
    try:
        run(flow, config.runtime, preflight=lambda: check_inputs(config))
    finally:
        ctx.flow_running.clear()
        stop.set()
        server.should_exit = True
        http.join(timeout=10)
        if isinstance(channel, KafkaChannel):  # what intake accepted reaches the topic
            channel.producer.flush(config.kafka.stop_grace_s)
        sock.close()
        engine.dispose()


def _listen(host: str, port: int) -> socket.socket:
    """Bind here, so a port in use is one clear error before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--http {host}:{port}: cannot listen: {exc.strerror}") from None
    sock.listen(2048)
    return sock


def _intake(
    settings: ServeConfig, config: AlertflowConfig
) -> tuple[IntakeChannel, AlertflowConfig]:
    """Kafka topics when the flow reads Kafka, else one in-process queue per stream."""
    topics: dict[str, str] = {}
    brokers: tuple[str, ...] = ()
    for stream, uris in config.inputs.items():
        for uri in uris:
            location = parse_location(uri) if not uri.startswith(queue_source.SCHEME) else None
            if isinstance(location, KafkaLocation) and location.topic:
                topics.setdefault(stream, location.topic)
                brokers = brokers or location.brokers
    if topics:
        from confluent_kafka import Producer

        producer_config = {"bootstrap.servers": ",".join(brokers),
                           **config.kafka.producer_config()}
        return KafkaChannel(Producer(producer_config), topics), config
    inputs = {stream: list(config.inputs.get(stream, [])) for stream in INPUT_STREAMS}
    queues = {}
    for stream in HTTP_STREAMS:
        queue = IntakeQueue(stream, settings.queue_size)
        queues[stream] = queue
        inputs[stream].insert(0, queue_source.register(queue))
    updated = config.model_copy(update={"inputs": {s: u for s, u in inputs.items() if u}})
    return QueueChannel(queues), updated


def _retain(engine: sa.Engine, days: float, stop: threading.Event) -> None:
    while True:
        prune(engine, days, time.time_ns())
        if stop.wait(3600.0):
            return
