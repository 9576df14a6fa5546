"""A small synchronous wrapper for scripts and tests: the asyncio client on a loop in a thread of
its own; every call blocks until done (or its time-out)."""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any, Callable, Coroutine

from .client import PalaverClient, Token
from .errors import PalaverError



class SyncRoom:
    """A subscription whose messages wait in a queue: ``get(timeout)`` takes the next one;
    changes to them wait in another: ``get_update(timeout)``."""

    def __init__(self, owner: "SyncClient", room_id: str, kwargs: dict) -> None:
        self._owner = owner
        self._queue: queue.Queue = queue.Queue()
        self._updates: queue.Queue = queue.Queue()

        async def make() -> Any:
            subscription = owner.client.subscribe(room_id, **kwargs)
            subscription.on_message(self._queue.put)
            subscription.on_update(self._updates.put)
            return subscription

        self.subscription = owner._run(make())
        self.room_id = room_id

    def ready(self, timeout: float = 30.0) -> None:
        self._owner._run(self.subscription.ready(), timeout)

    def get(self, timeout: float = 10.0) -> dict:
        """The next message of the room, in order; ``queue.Empty`` after ``timeout`` seconds."""
        return self._queue.get(timeout=timeout)

    def get_update(self, timeout: float = 10.0) -> dict:
        """The next change to a message handed out; ``queue.Empty`` after ``timeout`` seconds."""
        return self._updates.get(timeout=timeout)

    @property
    def last_seq(self) -> int | None:
        return self.subscription.last_seq

    @property
    def last_rev(self) -> int | None:
        return self.subscription.last_rev


class SyncClient:
    """``with SyncClient(url, token) as chat: chat.send(room, "hi")``. Takes PalaverClient's options."""

    def __init__(self, url: str, token: Token, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="palaver-client", daemon=True)
        self._thread.start()

        async def make() -> PalaverClient:
            return PalaverClient(url, token, **options)

        self.client: PalaverClient = self._run(make())

    def _run(self, coroutine: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise PalaverError("timeout", f"not done in {timeout} s") from None

    def connect(self, timeout: float = 30.0) -> None:
        self._run(self.client.connect(), timeout)

    def request(self, type: str, fields: dict | None = None, timeout: float | None = None) -> dict:
        return self._run(self.client.request(type, fields, timeout=timeout))

    def send(self, room: str, body: str, timeout: float = 60.0, **options: Any) -> dict:
        return self._run(self.client.send(room, body, **options), timeout)

    def subscribe(self, room: str, **options: Any) -> SyncRoom:
        return SyncRoom(self, room, options)

    def upload(self, data: bytes, name: str, **options: Any) -> dict:
        return self._run(self.client.upload(data, name, **options))

    def download(self, file_id: str, **options: Any) -> bytes:
        return self._run(self.client.download(file_id, **options))

    def on(self, name: str, callback: Callable[[Any], Any]) -> None:
        """``callback`` runs on the client's thread."""
        self.client.on(name, callback)

    @property
    def state(self) -> str:
        return self.client.state

    def close(self) -> None:
        if not self._loop.is_running():
            return
        try:
            self._run(self.client.close(), 30.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> "SyncClient":
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
