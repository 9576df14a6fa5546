"""One room's message stream: joined on every (re)connection with ``after_seq``, paged until
nothing is left, each message handed out once, in ``seq`` order; then ``changes`` from the last
``rev`` handed out, so that every edit, delete and reaction missed meanwhile comes as an update."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable, Protocol

from .errors import PalaverError
from .frames import JoinReply, Message, Room, User
from .revisions import Revisions
from .sequencer import Sequencer


class Joiner(Protocol):
    """What a subscription needs of its client (:class:`PalaverClient` is one)."""

    async def _join_page(self, room: str, after_seq: int | None, limit: int) -> JoinReply: ...

    async def _changes_page(self, room: str, after_rev: int, limit: int) -> dict: ...

    def _forget(self, subscription: "RoomSubscription") -> None: ...

    def _call(self, callback: Callable[[Any], Any], value: Any) -> None: ...

    def _emit(self, name: str, value: Any) -> None: ...

_FINAL = ("not_found", "forbidden", "bad_request")
#: Failed ``join``s or ``changes`` in a row, while connected, after which the subscription waits for the next connection.
_MAX_FAILURES = 5


class RoomSubscription:
    """Made by :meth:`PalaverClient.subscribe`. Take messages with ``on_message(callback)`` or
    ``async for message in subscription``, and changes to them with ``on_update(callback)``;
    ``last_seq`` and ``last_rev`` are what to keep and pass as ``after_seq`` and ``after_rev``
    next run."""

    def __init__(
        self, client: Joiner, room_id: str, after_seq: int | None, limit: int, after_rev: int | None = None
    ) -> None:
        self.room_id = room_id
        #: The room and members as the latest ``join`` answered them.
        self.room: Room | None = None
        self.members: list[User] = []
        #: Why the subscription ended, if it did (``not_found``, ``forbidden``; removed from the room).
        self.error: PalaverError | None = None
        self._client = client
        self._limit = limit
        self._sequencer = Sequencer(after_seq)
        self._revisions = Revisions(after_rev)
        self._callbacks: list[Callable[[dict], Any]] = []
        self._update_callbacks: list[Callable[[dict], Any]] = []
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
    def last_rev(self) -> int | None:
        """The room ``rev`` up to which every change was handed out; None before the first ``join``."""
        return self._revisions.last_rev

    @property
    def active(self) -> bool:
        return not self._ended

    async def ready(self) -> None:
        """Returns when the first ``join`` (and the pages after it) has been handed out."""
        await asyncio.shield(self._ready)

    def on_message(self, callback: Callable[[dict], Any]) -> None:
        """Calls ``callback(message)`` for each message, once, in order."""
        self._callbacks.append(callback)

    def on_update(self, callback: Callable[[dict], Any]) -> None:
        """Calls ``callback(message)`` when a message already handed out changed (an edit, a
        delete, a reaction): the message at its latest state, each state once, never an older
        after a newer; caught up with ``changes`` after every reconnect. (A change to a message
        not handed out yet makes its ``on_message`` show it.)"""
        self._update_callbacks.append(callback)

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

    def _updated(self, message: dict) -> None:
        if self._ended:
            return
        last = self._sequencer.last_seq
        self._update(self._revisions.change(message, self._known(message, last), True))

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
        self._revisions.begin_catch_up()
        try:
            try:
                room_last_rev = await self._join_pages()
                if room_last_rev is None:
                    return
                if self._revisions.needs_changes(room_last_rev):
                    await self._changes_pages()
                else:
                    self._revisions.end_catch_up(room_last_rev)
            except PalaverError as error:
                self._failed(error)
                return
            if self._ended:
                return
            self._failures = 0
            if not self._ready.done():
                self._ready.set_result(None)
        finally:
            if self._again and not self._ended:
                self._again = False
                self._catching_up = asyncio.ensure_future(self._pages())

    async def _join_pages(self) -> int | None:
        """``join`` pages until ``has_more`` is false; returns the room's ``last_rev`` (None: ended)."""
        for _ in range(100_000):
            reply = await self._client._join_page(self.room_id, self._sequencer.last_seq, self._limit)
            if self._ended:
                return None
            self.room = reply.get("room")
            self.members = reply.get("members", [])
            messages = sorted(reply.get("messages", []), key=lambda m: m.get("seq", 0))
            # Without after_seq the page is the newest messages; an empty one, an empty room.
            self._deliver(self._sequencer.start_at(messages[0]["seq"] - 1 if messages else 0))
            for message in messages:
                self._deliver(self._sequencer.accept(message))
            if not reply.get("has_more"):
                return int((self.room or {}).get("last_rev") or 0)
        return None

    async def _changes_pages(self) -> None:
        """``changes`` pages from the last ``rev`` handed out until ``has_more`` is false."""
        after = self._revisions.last_rev or 0
        for _ in range(100_000):
            reply = await self._client._changes_page(self.room_id, after, self._limit)
            if self._ended:
                return
            messages = reply.get("messages", [])
            last = self._sequencer.last_seq
            for message in messages:
                self._update(self._revisions.change(message, self._known(message, last), False))
            if not reply.get("has_more") or not messages:
                self._revisions.end_catch_up(int(reply.get("last_rev") or 0))
                return
            after = messages[-1]["rev"]

    def _failed(self, error: PalaverError) -> None:
        """A ``join`` or ``changes`` that failed: for good, or tried again (now, or on the next connection)."""
        if error.code in _FINAL:
            self.error = error
            self.end()
        elif error.code not in ("disconnected", "closed"):
            # A time-out or a store that could not answer while connected: tried again after a
            # pause, a bounded number of times; a drop waits for the next connection.
            if self._failures < _MAX_FAILURES:
                self._failures += 1
                asyncio.get_running_loop().call_later(0.5 * 2**self._failures, self._catch_up)
            else:
                self._client._emit("error", error)

    @staticmethod
    def _known(message: dict, last_seq: int | None) -> bool:
        seq = message.get("seq")
        return last_seq is not None and isinstance(seq, int) and seq <= last_seq

    def _update(self, message: Any) -> None:
        if message is None:
            return
        for callback in list(self._update_callbacks):
            self._client._call(callback, message)

    def _deliver(self, messages: list[dict]) -> None:
        for message in map(self._revisions.hand_out, messages):
            for callback in list(self._callbacks):
                self._client._call(callback, message)
            for queue in self._queues:
                queue.put_nowait(message)
