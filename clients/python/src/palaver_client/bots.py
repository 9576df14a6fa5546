"""Webhook bots (docs/bots.md): a small HTTP server that hands each call to your function and
posts its replies back, and helpers that build the templates of protocol section 6."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

#: The most a webhook call's body may hold here (the server sends one message).
MAX_CALL_BYTES = 1 << 20


def text(text: str) -> dict:
    return {"kind": "text", "text": text}


def card(title: str, text: str, *, image_url: str | None = None, buttons: list[dict] | None = None, body: str | None = None) -> dict:
    """A card; ``image_url`` is an http(s) URL or a path on the Palaver server; ``buttons`` are
    ``{"id", "label"}`` (``button()``)."""
    template: dict = {"kind": "card", "title": title, "text": text}
    if image_url is not None:
        template["image_url"] = image_url
    if buttons:
        template["buttons"] = buttons
    if body is not None:
        template["body"] = body
    return template


def button(id: str, label: str) -> dict:
    return {"id": id, "label": label}


Handler = Callable[[dict], list]


class WebhookServer:
    """Serves ``handler(call) -> [template…]`` for a webhook bot on ``host:port`` (0: any free
    port) in a thread. ``call`` is ``{"bot", "room", "user", "message"}`` (``message`` None for
    the greeting). A handler that raises answers 500, and the user gets the bot's fallback."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        class Calls(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                if length <= 0 or length > MAX_CALL_BYTES:
                    return self._answer(400, {"error": "a webhook call is a JSON body"})
                try:
                    call = json.loads(self.rfile.read(length))
                    replies = handler(call)
                except Exception as error:  # the bot's own bug: the user gets the fallback
                    self.log_error("the bot's handler failed: %r", error)
                    return self._answer(500, {"error": "the bot failed"})
                self._answer(200, {"replies": list(replies or [])})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # one line per call is noise; errors go through log_error

            def log_error(self, format: str, *args: object) -> None:  # noqa: A002
                BaseHTTPRequestHandler.log_message(self, format, *args)

        self._server = ThreadingHTTPServer((host, port), Calls)
        self._thread = threading.Thread(target=self._server.serve_forever, name="palaver-webhook", daemon=True)
        self._thread.start()
        bound_host, bound_port = self._server.server_address[:2]
        if isinstance(bound_host, bytes):
            bound_host = bound_host.decode()
        #: The URL to give in the bot definition's ``webhook.url``.
        self.url = f"http://{bound_host}:{bound_port}/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> "WebhookServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
