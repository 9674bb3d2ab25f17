"""A real HTTP receiver on loopback whose answers a test scripts: 2xx, 5xx, 429, stalls."""

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float = 0.0  # time.perf_counter() when the request arrived


# (request number from 1, path) -> (status, seconds to stall first, extra headers)
Script = Callable[[int, str], tuple[int, float, dict[str, str]]]


def always(status: int = 200) -> Script:
    return lambda n, path: (status, 0.0, {})


@dataclass
class Receiver:
    """A ThreadingHTTPServer that records every POST and answers as ``script`` says."""

    script: Script = field(default_factory=always)
    port: int = 0
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> "Receiver":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                n = len(owner.received) + 1
                status, stall, extra = owner.script(n, self.path)
                owner.received.append(
                    Received(self.path, dict(self.headers), body, status, time.perf_counter()))
                if stall:
                    time.sleep(stall)
                try:
                    self.send_response(status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is the stall under test

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ok(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
