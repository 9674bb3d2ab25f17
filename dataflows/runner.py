"""Running a built flow: single or multi-process, with recovery and clean stops."""

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
