"""Errors of the delivery stage."""

from alertflow.schemas.errors import AlertflowError


class DeliveryConfigError(AlertflowError):
    """A route, silence, window or receiver setting is invalid."""
