"""The project's exception root, and the error raised by every decoder."""


class AlertflowError(Exception):
    """Root of every exception alertflow raises on purpose."""


class DecodeError(AlertflowError):
    """A message could not be decoded or failed validation.

    ``reason`` is a short sentence naming what was expected; it travels to the
    dead-letter output unchanged.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
