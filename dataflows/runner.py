"""Running a built flow: single or multi-process, with recovery and clean stops."""

import gc
import os
from collections.abc import Callable
from datetime import timedelta

from alertflow.dataflows.shutdown import install_handlers, restore_handlers
from alertflow.schemas.config import RuntimeConfig
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main


def run(
    flow: Dataflow, runtime: RuntimeConfig, preflight: Callable[[], None] | None = None
) -> None:
    """Run ``flow`` until its inputs end or SIGTERM/SIGINT asks it to drain and stop.

    ``preflight`` runs first, with the stop handlers already installed, so a check that
    waits (brokers that do not answer) can be stopped too, and fails outside the engine.
    """
    recovery = None
    epoch = timedelta(seconds=runtime.snapshot_interval_s)
    if runtime.recovery_dir is not None:
        if not runtime.recovery_dir.exists() or not any(runtime.recovery_dir.iterdir()):
            runtime.recovery_dir.mkdir(parents=True, exist_ok=True)
            processes = max(1, len(runtime.addresses))
            init_db_dir(runtime.recovery_dir, processes * runtime.workers_per_process)
        recovery = RecoveryConfig(str(runtime.recovery_dir))
    # A Python error raised in a source or sink reaches Bytewax as a Rust panic; its Rust
    # backtrace says nothing about alertflow, and the CLI prints the error itself.
    os.environ["RUST_BACKTRACE"] = "0"
    previous = install_handlers()
    try:
        if preflight is not None:
            preflight()
        quiet_garbage_collector()
        cli_main(
            flow,
            workers_per_process=runtime.workers_per_process,
            process_id=runtime.process_id,
            addresses=runtime.addresses or None,
            epoch_interval=epoch,
            recovery_config=recovery,
        )
    finally:
        restore_handlers(previous)


# Allocations between young collections (CPython's default is 700). A poll in flight holds
# thousands of records; collected every 700 allocations, each collection found them alive and
# promoted them, which soon triggered a full collection (bench/throughput_steps.py: 9 in 300k
# samples, up to 400 ms of CPU each on the shared machine).
GC_YOUNG_THRESHOLD = 20_000


def quiet_garbage_collector() -> None:
    """Keep the collector off the hot path: freeze the start-up heap, collect young less often.

    Everything alive now (modules, numba's and pydantic's machinery: ~400k objects) lives
    as long as the job; frozen, full collections no longer walk it. Records die by reference
    counting; only cyclic garbage waits longer for a collection.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
