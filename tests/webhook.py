"""A real HTTP receiver on 127.0.0.1 for Apprise's ``json://`` URLs: it records what arrives and can
answer 500 a number of times, or hold every request until the test releases it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, *, fail_first: int = 0, hang: bool = False) -> None:
        self.messages: list[dict] = []
        self.attempts = 0
        self.fail_first = fail_first
        self.release = threading.Event()
        if not hang:
            self.release.set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:   # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.attempts += 1
                    failing = receiver.attempts <= receiver.fail_first
                receiver.release.wait(30)
                if failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def titles(self) -> list[str]:
        with self._lock:
            return [m.get("title", "") for m in self.messages]
