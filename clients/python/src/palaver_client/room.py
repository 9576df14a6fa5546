"""One room's message stream: joined on every (re)connection with ``after_seq``, paged until
nothing is left, each message handed out once, in ``seq`` order."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable, Protocol

from .errors import PalaverError
from .frames import JoinReply, Message, Room, User
from .sequencer import Sequencer


class Joiner(Protocol):
    """What a subscription needs of its client (:class:`PalaverClient` is one)."""

    async def _join_page(self, room: str, after_seq: int | None, limit: int) -> JoinReply: ...

    def _forget(self, subscription: "RoomSubscription") -> None: ...

    def _call(self, callback: Callable[[Any], Any], value: Any) -> None: ...

    def _emit(self, name: str, value: Any) -> None: ...

_FINAL = ("not_found", "forbidden", "bad_request")
#: Failed ``join``s in a row, while connected, after which the subscription waits for the next connection.
_MAX_FAILURES = 5


class RoomSubscription:
    """Made by :meth:`PalaverClient.subscribe`. Take messages with ``on_message(callback)`` or
    ``async for message in subscription``; ``last_seq`` is what to keep and pass as
    ``after_seq`` next run."""

    def __init__(self, client: Joiner, room_id: str, after_seq: int | None, limit: int) -> None:
        self.room_id = room_id
        #: The room and members as the latest ``join`` answered them.
        self.room: Room | None = None
        self.members: list[User] = []
        #: Why the subscription ended, if it did (``not_found``, ``forbidden``; removed from the room).
        self.error: PalaverError | None = None
        self._client = client
        self._limit = limit
        self._sequencer = Sequencer(after_seq)
        self._callbacks: list[Callable[[dict], Any]] = []
        self._queues: list[asyncio.Queue] = []
        self._catching_up: asyncio.Task | None = None
        self._again = False
        #: ``join``s in a row that failed while connected.
        self._failures = 0
        self._ended = False
        self._ready: asyncio.Future = asyncio.get_running_loop().create_future()

    @property
    def last_seq(self) -> int | None:
        return self._sequencer.last_seq

    @property
    def active(self) -> bool:
        return not self._ended

    async def ready(self) -> None:
        """Returns when the first ``join`` (and the pages after it) has been handed out."""
        await asyncio.shield(self._ready)

    def on_message(self, callback: Callable[[dict], Any]) -> None:
        """Calls ``callback(message)`` for each message, once, in order."""
        self._callbacks.append(callback)

    def __aiter__(self) -> AsyncIterator[dict]:
        """The messages from now on, in order; ends when the subscription ends. Unconsumed
        messages wait in memory: iterate, or use ``on_message``."""
        queue: asyncio.Queue = asyncio.Queue()
        self._queues.append(queue)

        async def iterate() -> AsyncIterator[dict]:
            try:
                while True:
                    message = await queue.get()
                    if message is None:
                        return
                    yield message
            finally:
                if queue in self._queues:
                    self._queues.remove(queue)

        return iterate()

    def end(self) -> None:
        """Stops the stream; the client sends ``leave``."""
        if self._ended:
            return
        self._ended = True
        for queue in self._queues:
            queue.put_nowait(None)
        if not self._ready.done():
            self._ready.set_exception(self.error or PalaverError("closed", "the subscription ended"))
            self._ready.exception()  # retrieved: nobody has to await it
        self._client._forget(self)

    # ---- for the client ----

    def _live(self, message: dict) -> None:
        if self._ended:
            return
        self._deliver(self._sequencer.accept(message))
        if self._sequencer.has_gap and self._sequencer.last_seq is not None:
            self._catch_up()

    def _removed(self) -> None:
        self.error = PalaverError("not_found", f"the room {self.room_id} was removed")
        self.end()

    def _catch_up(self) -> None:
        if self._ended:
            return
        if self._catching_up is not None and not self._catching_up.done():
            self._again = True
            return
        self._catching_up = asyncio.ensure_future(self._pages())

    async def _pages(self) -> None:
        try:
            for page in range(100_000):
                if self._ended:
                    return
                try:
                    reply = await self._client._join_page(self.room_id, self._sequencer.last_seq, self._limit)
                except PalaverError as error:
                    if error.code in _FINAL:
                        self.error = error
                        self.end()
                    elif error.code not in ("disconnected", "closed"):
                        # A time-out or a store that could not answer while connected: tried
                        # again after a pause, a bounded number of times; a drop waits for the
                        # next connection.
                        if self._failures < _MAX_FAILURES:
                            self._failures += 1
                            asyncio.get_running_loop().call_later(0.5 * 2**self._failures, self._catch_up)
                        else:
                            self._client._emit("error", error)
                    return
                if self._ended:
                    return
                self._failures = 0
                self.room = reply.get("room")
                self.members = reply.get("members", [])
                messages = sorted(reply.get("messages", []), key=lambda m: m.get("seq", 0))
                # Without after_seq the page is the newest messages; an empty one, an empty room.
                self._deliver(self._sequencer.start_at(messages[0]["seq"] - 1 if messages else 0))
                for message in messages:
                    self._deliver(self._sequencer.accept(message))
                if not reply.get("has_more"):
                    break
            if not self._ready.done():
                self._ready.set_result(None)
        finally:
            if self._again and not self._ended:
                self._again = False
                self._catching_up = asyncio.ensure_future(self._pages())

    def _deliver(self, messages: list[dict]) -> None:
        for message in messages:
            for callback in list(self._callbacks):
                self._client._call(callback, message)
            for queue in self._queues:
                queue.put_nowait(message)
