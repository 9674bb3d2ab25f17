"""Where ``alertflow serve`` keeps silences set through the API, when the config says nowhere."""

from pathlib import Path

from alertflow.schemas.config import AlertflowConfig

DEFAULT_NAME = "alertflow-silences.json"


def default_silences_file(store_url: str) -> Path:
    """Beside a SQLite store's file; in the working directory for a server database.

    >>> default_silences_file("sqlite:////var/lib/alertflow/alertflow.db")
    PosixPath('/var/lib/alertflow/alertflow-silences.json')
    >>> default_silences_file("postgresql://alertflow@db/alertflow")
    PosixPath('alertflow-silences.json')
    """
    if store_url.startswith("sqlite:///"):
        db = Path(store_url.removeprefix("sqlite:///"))
        return db.with_name(DEFAULT_NAME)
    return Path(DEFAULT_NAME)


def with_silences_file(config: AlertflowConfig, store_url: str) -> AlertflowConfig:
    """``config`` with ``notify.silences_file`` set, so the API and the flow share one file."""
    if config.notify.silences_file is not None:
        return config
    notify = config.notify.model_copy(update={"silences_file": default_silences_file(store_url)})
    return config.model_copy(update={"notify": notify})
