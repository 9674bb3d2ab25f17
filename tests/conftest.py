import os

import pytest
from hypothesis import settings

from bench.broker import TansuBroker


@pytest.fixture(scope="session")
def broker():
    """One real Tansu broker for the whole session; tests use their own topics."""
    instance = TansuBroker().start()
    yield instance
    instance.stop()


# CI runs the same examples every time, so a red build is reproducible; locally the
# default profile keeps exploring new ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
