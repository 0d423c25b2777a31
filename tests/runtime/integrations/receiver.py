"""A local HTTP receiver for outgoing webhooks and robot messages: it records what it gets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)  # answered in turn, then `default`
    default: tuple[int, Any] = (200, {"errcode": 0, "errmsg": "ok", "code": 0})
    delay: float = 0.0  # seconds each answer waits (a slow receiver, to stop a worker mid-run)
    lock: threading.Lock = field(default_factory=threading.Lock)
    open: threading.Event = field(default_factory=threading.Event)  # cleared: requests are held unanswered

    def __post_init__(self) -> None:
        self.open.set()

    def answer(self) -> tuple[int, Any]:
        with self.lock:
            return self.answers.pop(0) if self.answers else self.default

    def webhook_ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the standard library's name
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.requests.append(Received(parts.path, query, headers, body))
            receiver.open.wait()
            status, answer = receiver.answer()
            time.sleep(receiver.delay)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the sender is gone (killed while it waited): nobody reads the answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.open.set()
        server.shutdown()
        server.server_close()
