import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from server import Server, backends  # noqa: E402


@pytest.fixture(params=backends())
def backend(request):
    return request.param


@pytest.fixture
def start_server():
    """start_server(backend, extra=[]): a Server, stopped when the test ends."""
    started = []

    def start(backend, extra=None):
        server = Server(backend, extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
