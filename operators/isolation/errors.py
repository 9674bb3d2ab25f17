"""The one exception the isolation package raises on purpose."""

from alertflow.schemas.errors import AlertflowError


class IsolationError(AlertflowError, ValueError):
    """Settings or input that an isolation model cannot use; the message names both."""
