"""``alertflow serve``'s own settings (the flow's are :class:`~.config.AlertflowConfig`)."""

from pydantic import BaseModel, ConfigDict, Field

ADMIN_TOKEN_ENV = "ALERTFLOW_ADMIN_TOKEN"  # noqa: S105 - the variable's name, not a token
"""An admin API token to create at start; no token exists otherwise."""


class ServeConfig(BaseModel):
    """Where the HTTP side listens, where the store is, how much intake may wait."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    store: str = Field("sqlite:///alertflow.db", description="sqlite:///PATH or postgresql://...")
    queue_size: int = Field(
        10_000,
        ge=1,
        description="Messages per input stream that may wait for the flow (embedded mode); "
        "beyond, intake answers 503 with Retry-After.",
    )
    retention_days: float | None = Field(
        None, gt=0, description="Delete stored records older than this, hourly; unset keeps all."
    )
