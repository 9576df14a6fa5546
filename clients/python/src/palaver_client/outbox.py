"""The sends not yet acknowledged: bounded, in memory, with a hook to persist them."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol


class OutboxStore(Protocol):
    """Where the offline queue is kept between runs (a file, a database row). ``save`` gets the
    whole queue after every change, in order; ``load`` is read once, by the first ``connect()``.
    Either may be a coroutine function. A send restored from it is sent again with its
    ``client_msg_id``, so the server stores it once whatever happened before the process stopped.
    Each item is ``{"client_msg_id", "room", "body", "files"?, "reply_to"?, "mentions"?, "queued_at"}``."""

    def load(self) -> Any: ...

    def save(self, items: list[dict]) -> Any: ...


@dataclass(eq=False)
class Entry:
    item: dict
    #: The request id of the frame on the wire, or None when not in flight.
    in_flight: int | None = None
    #: ``unavailable`` answers so far (a drop or ``rate_limited`` does not count).
    failures: int = 0
    future: asyncio.Future | None = field(default=None, repr=False)


def is_pending_send(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    def strings(key: str) -> bool:
        items = value.get(key)
        return items is None or (isinstance(items, list) and all(isinstance(item, str) for item in items))

    return (
        isinstance(value.get("client_msg_id"), str)
        and isinstance(value.get("room"), str)
        and isinstance(value.get("body"), str)
        and strings("files")
        and strings("mentions")
        and (value.get("reply_to") is None or isinstance(value.get("reply_to"), str))
    )


class Outbox:
    def __init__(self, maximum: int, store: OutboxStore | None, on_error: Callable[[Exception], None]) -> None:
        self.maximum = max(1, maximum)
        self.entries: list[Entry] = []
        self._store = store
        self._on_error = on_error
        self._saving: asyncio.Future | None = None

    @property
    def full(self) -> bool:
        return len(self.entries) >= self.maximum

    async def restore(self) -> None:
        if self._store is None:
            return
        loaded = self._store.load()
        if inspect.isawaitable(loaded):
            loaded = await loaded
        if not isinstance(loaded, list):
            return
        known = {entry.item["client_msg_id"] for entry in self.entries}
        restored = []
        for item in loaded:
            if not is_pending_send(item) or item["client_msg_id"] in known:
                continue
            known.add(item["client_msg_id"])
            restored.append(Entry(item=dict(item)))
        # Nothing is dropped: past ``maximum`` (a smaller bound than the last run's) new sends
        # are refused until the queue drains.
        self.entries = restored + self.entries

    def push(self, entry: Entry) -> None:
        self.entries.append(entry)
        self._persist()

    def remove(self, entry: Entry) -> None:
        if entry in self.entries:
            self.entries.remove(entry)
            self._persist()

    def by_request(self, request_id: int) -> Entry | None:
        return next((e for e in self.entries if e.in_flight == request_id), None)

    def land_all(self) -> None:
        for entry in self.entries:
            entry.in_flight = None

    async def saved(self) -> None:
        """Returns when every save asked for so far is done."""
        if self._saving is not None:
            await asyncio.shield(self._saving)

    def _persist(self) -> None:
        store = self._store
        if store is None:
            return
        snapshot = [dict(entry.item) for entry in self.entries]
        previous = self._saving

        async def save() -> None:
            if previous is not None:
                await previous
            try:
                result = store.save(snapshot)
                if inspect.isawaitable(result):
                    await result
            except Exception as error:  # the app's store: reported, never raised into the client
                self._on_error(error)

        self._saving = asyncio.ensure_future(save())
