import pytest

from bench.broker import TansuBroker


@pytest.fixture(scope="session")
def broker():
    """One real Tansu broker for the whole session; tests use their own topics."""
    instance = TansuBroker().start()
    yield instance
    instance.stop()
