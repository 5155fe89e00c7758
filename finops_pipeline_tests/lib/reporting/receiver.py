"""A local HTTP receiver on loopback for alert tests: a real server thread that records every POST.

Each path can be told to refuse its first N requests (HTTP 500), or every request. The sender waits for
each answer, so once a sensor tick returns, everything it sent has been recorded: no sleeps needed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    refuse_first: dict[str, int] = field(default_factory=dict)  # path -> requests still to refuse
    refuse_always: set[str] = field(default_factory=set)

    def delivered(self, path: str) -> list[Received]:
        """The requests to ``path`` that were answered 200 (delivered)."""
        return [r for r in self.received if r.path == path and r.status == 200]

    def answer(self, path: str) -> int:
        if path in self.refuse_always:
            return 500
        if self.refuse_first.get(path, 0) > 0:
            self.refuse_first[path] -= 1
            return 500
        return 200


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                status = state.answer(self.path)
                state.received.append(Received(self.path, dict(self.headers), body, status))
            reply = b"ok" if status == 200 else b"rollup_error"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:  # quiet test output
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
