"""The connection: one WebSocket at a time, reconnected with jittered, bounded back-off; every
subscribed room resumed with ``join`` + ``after_seq``; sends kept in an outbox until their ``ok``
and sent again with the same ``client_msg_id``; ``rate_limited`` waited out."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import secrets
import time
import urllib.parse
from typing import Any, Awaitable, Callable, Union

from websockets.asyncio.client import ClientConnection, connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from . import files
from .backoff import Backoff
from .errors import PalaverError
from .frames import FileInfo, JoinReply, Message, User
from .outbox import Entry, Outbox, OutboxStore
from .room import RoomSubscription

log = logging.getLogger("palaver_client")

#: The protocol version this library speaks: the major version of the package.
PROTOCOL_VERSION = 1

Token = Union[str, Callable[[], Union[str, Awaitable[str]]]]

#: What ``on`` takes: ``open`` ({hello, reconnect}), ``close`` ({code, reason, delay}), ``state``
#: (a string), ``event`` (every server event as it comes), ``sent`` ({pending, message}),
#: ``send_failed`` ({pending, error}), ``unauthorized`` ({code, reason}: 4001, or 401 on
#: connecting; the client stops), ``error`` (a PalaverError no call reports).
EVENTS = ("open", "close", "state", "event", "sent", "send_failed", "unauthorized", "error")


def new_client_msg_id() -> str:
    """``c_`` and 32 hex digits (128 random bits)."""
    return "c_" + secrets.token_hex(16)


class PalaverClient:
    """States: ``idle``, ``connecting``, ``open``, ``waiting`` (backing off), ``stopped`` (the
    token is no good: ``set_token`` and ``connect`` go on), ``closed``."""

    def __init__(
        self,
        url: str,
        token: Token,
        *,
        backoff: Backoff = Backoff(),
        max_queue: int = 1000,
        outbox_store: OutboxStore | None = None,
        request_timeout: float = 20.0,
        connect_timeout: float = 10.0,
        send_window: int = 64,
        max_send_failures: int = 10,
        join_limit: int = 100,
        ping_interval: float = 10.0,
        ping_timeout: float = 20.0,
    ) -> None:
        self._base = files.http_base(url)
        self._token = token
        self._last_token = ""
        self._backoff = backoff
        self._request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._max_window = min(max(1, send_window), 256)
        self._window = self._max_window
        self._max_send_failures = max_send_failures
        self._join_limit = min(max(1, join_limit), 200)
        self._ping = (ping_interval, ping_timeout)
        self._outbox = Outbox(max_queue, outbox_store, self._store_failed)
        self._listeners: dict[str, list[Callable[[Any], Any]]] = {name: [] for name in EVENTS}
        self._subscriptions: dict[str, RoomSubscription] = {}
        self._pending: dict[int, asyncio.Future] = {}
        self._open_waiters: list[asyncio.Future] = []
        self._outq: asyncio.Queue | None = None
        self._runner: asyncio.Task | None = None
        self._restored = False
        self._ever_open = False
        self._next_id = 1
        self._attempt = 0
        self._paused_until = 0.0
        self._pump_timer: asyncio.TimerHandle | None = None
        self.state = "idle"
        #: Set by :meth:`reconnect_now`: the back-off's wait ends at once.
        self._wake = asyncio.Event()
        #: The signed-in user, from the latest ``hello``.
        self.user: User | None = None

    # ---- the app's side ----

    def on(self, name: str, callback: Callable[[Any], Any]) -> Callable[[], None]:
        """Calls ``callback(value)`` on each ``name`` event (see EVENTS); returns its remover."""
        if name not in self._listeners:
            raise ValueError(f"no event {name!r}; the events are {', '.join(EVENTS)}")
        self._listeners[name].append(callback)
        return lambda: self._listeners[name].remove(callback) if callback in self._listeners[name] else None

    @property
    def queued(self) -> list[dict]:
        """Sends waiting for their ``ok``, oldest first."""
        return [dict(entry.item) for entry in self._outbox.entries]

    async def saved(self) -> None:
        """Returns when every change to the outbox so far is in the outbox store."""
        await self._outbox.saved()

    def set_token(self, token: Token) -> None:
        """Replaces the token (after ``unauthorized``); used from the next connection on."""
        self._token = token

    async def connect(self) -> None:
        """Starts connecting (and restores the outbox store the first time); returns at the
        first ``hello``. The client then reconnects by itself until ``close()``."""
        if self.state == "closed":
            raise PalaverError("closed", "the client was closed")
        if self.state in ("idle", "stopped"):
            self._attempt = 0
            if not self._restored:
                self._restored = True
                try:
                    await self._outbox.restore()
                except Exception as error:  # the app's store
                    self._emit("error", PalaverError("protocol", f"the outbox store could not be read: {error}"))
            self._set_state("connecting")
            self._runner = asyncio.ensure_future(self._run())
        await self._when_open(float("inf"))

    async def close(self) -> None:
        """Closes for good. Sends still queued fail with ``closed`` but stay in the outbox store,
        so the next run sends them. Returns when the store has been written."""
        if self.state != "closed":
            self._set_state("closed")
            runner, self._runner = self._runner, None
            if runner is not None:
                runner.cancel()
                try:
                    await runner
                except asyncio.CancelledError:
                    pass
            error = PalaverError("closed", "the client was closed")
            self._dropped(error)
            self._fail_waiters(error)
            for entry in self._outbox.entries:
                if entry.future is not None and not entry.future.done():
                    entry.future.set_exception(error)
                    entry.future.exception()
            for subscription in list(self._subscriptions.values()):
                subscription.end()
        await self._outbox.saved()

    async def request(self, type: str, fields: dict | None = None, *, timeout: float | None = None) -> dict:
        """Sends a command (section 4) and returns its reply's ``data``. Waits for a connection
        and waits out ``rate_limited``, within the time-out. A drop before the reply raises
        ``disconnected``: the command may or may not have run. For messages use :meth:`send`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._request_timeout if timeout is None else timeout)
        while True:
            await self._when_open(deadline)
            paused = self._paused_until - loop.time()
            if paused > 0:
                if loop.time() + paused > deadline:
                    raise PalaverError("timeout", "rate limited past the time-out")
                await asyncio.sleep(paused)
                continue
            try:
                return await self._request_once(type, fields or {}, deadline - loop.time())
            except PalaverError as error:
                if error.code != "rate_limited":
                    raise
                wait = min((error.retry_after_ms or 1000) / 1000, 60.0) * (1 + secrets.randbelow(500) / 1000)
                if loop.time() + wait > deadline:
                    raise
                self._pause(wait)

    async def send(
        self,
        room: str,
        body: str,
        *,
        files: list[str] | None = None,
        reply_to: str | None = None,
        mentions: list[str] | None = None,
        client_msg_id: str | None = None,
    ) -> Message:
        """Sends a message and returns it as stored. It is queued (``queue_full`` past
        ``max_queue``), sent when connected, and sent again after every drop with the same
        ``client_msg_id`` until acknowledged, so it is stored once."""
        if self.state == "closed":
            raise PalaverError("closed", "the client was closed")
        if self._outbox.full:
            raise PalaverError("queue_full", f"{self._outbox.maximum} sends are already waiting")
        item: dict = {
            "client_msg_id": client_msg_id or new_client_msg_id(),
            "room": room,
            "body": body,
            "queued_at": int(time.time() * 1000),
        }
        if files:
            item["files"] = list(files)
        if reply_to:
            item["reply_to"] = reply_to
        if mentions:
            item["mentions"] = list(mentions)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._outbox.push(Entry(item=item, future=future))
        self._pump()
        return await asyncio.shield(future)

    def subscribe(
        self, room: str, *, after_seq: int | None = None, after_rev: int | None = None, limit: int | None = None
    ) -> RoomSubscription:
        """The room's message stream, joined now (if connected) and on every reconnection with
        ``after_seq``: each message once, in order; then ``changes`` for what changed meanwhile
        (``on_update``). ``after_seq`` and ``after_rev``: the subscription's ``last_seq`` and
        ``last_rev`` kept from an earlier run; without ``after_seq`` the stream starts with the
        newest page, without ``after_rev`` the changes start at the room's ``last_rev`` then."""
        existing = self._subscriptions.get(room)
        if existing is not None and existing.active:
            return existing
        limit = min(max(1, limit or self._join_limit), 200)
        subscription = RoomSubscription(self, room, after_seq, limit, after_rev)
        self._subscriptions[room] = subscription
        if self.state == "open":
            subscription._catch_up()
        return subscription

    def reconnect_now(self) -> None:
        """Reconnects now instead of waiting out the back-off, when the app learns that the
        network is back. Does nothing unless the client is waiting to reconnect."""
        if self.state == "waiting":
            self._wake.set()

    async def upload(self, data: bytes, name: str, *, content_type: str = "application/octet-stream", retries: int = 3) -> FileInfo:
        """Uploads a file (section 9); pass the result's ``id`` in ``send``'s ``files``."""
        return await files.upload(self._base, await self._token_value(), data, name, content_type, retries, self._request_timeout)

    async def download(self, file_id: str, *, thumbnail: bool = False) -> bytes:
        path = f"/files/{urllib.parse.quote(file_id, safe='')}" + ("/thumbnail" if thumbnail else "")
        return await files.download(self._base, await self._token_value(), path, self._request_timeout)

    def file_url(self, file_id: str, *, thumbnail: bool = False) -> str:
        """A URL with the token in the query (keep it out of logs)."""
        path = f"/files/{urllib.parse.quote(file_id, safe='')}" + ("/thumbnail" if thumbnail else "")
        return f"{self._base}{path}?token={urllib.parse.quote(self._last_token, safe='')}"

    # ---- for RoomSubscription ----

    async def _join_page(self, room: str, after_seq: int | None, limit: int) -> JoinReply:
        if self.state != "open":
            raise PalaverError("disconnected", "not connected")
        fields: dict = {"room": room, "limit": limit}
        if after_seq is not None:
            fields["after_seq"] = after_seq
        return await self.request("join", fields)  # type: ignore[return-value]

    async def _changes_page(self, room: str, after_rev: int, limit: int) -> dict:
        if self.state != "open":
            raise PalaverError("disconnected", "not connected")
        return await self.request("changes", {"room": room, "after_rev": after_rev, "limit": limit})

    def _forget(self, subscription: RoomSubscription) -> None:
        if self._subscriptions.get(subscription.room_id) is not subscription:
            return
        del self._subscriptions[subscription.room_id]
        if self.state == "open":
            asyncio.ensure_future(self._leave(subscription.room_id))

    async def _leave(self, room: str) -> None:
        try:
            await self._request_once("leave", {"room": room}, self._request_timeout)
        except PalaverError as error:
            if error.code not in ("disconnected", "not_found", "closed", "timeout"):
                self._emit("error", error)

    def _call(self, callback: Callable[[Any], Any], value: Any) -> None:
        """Runs an app callback; what it raises is reported to the loop's exception handler."""
        loop = asyncio.get_running_loop()
        try:
            result = callback(value)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                task.add_done_callback(lambda t: t.cancelled() or t.exception() is None or loop.call_exception_handler(
                    {"message": "a palaver_client callback failed", "exception": t.exception()}))
        except Exception as error:
            loop.call_exception_handler({"message": "a palaver_client callback failed", "exception": error})

    # ---- the connection ----

    def _emit(self, name: str, value: Any) -> None:
        if name == "error" and not self._listeners[name]:
            # An error nobody listens for is still said, never dropped without a word.
            log.warning("palaver_client: %s", value)
        for callback in list(self._listeners[name]):
            self._call(callback, value)

    def _set_state(self, state: str) -> None:
        if self.state != state:
            self.state = state
            self._emit("state", state)

    def _store_failed(self, error: Exception) -> None:
        self._emit("error", PalaverError("protocol", f"the outbox store failed: {error}"))

    async def _token_value(self) -> str:
        token = self._token() if callable(self._token) else self._token
        if inspect.isawaitable(token):
            token = await token
        self._last_token = str(token)
        return self._last_token

    async def _run(self) -> None:
        while self.state not in ("closed", "stopped"):
            code, reason, greeted = 1006, "", False
            try:
                self._set_state("connecting")
                url = files.ws_url(self._base, await self._token_value())
                async with ws_connect(
                    url,
                    open_timeout=self._connect_timeout,
                    ping_interval=self._ping[0],
                    ping_timeout=self._ping[1],
                    close_timeout=2,
                    # A `join` page of 200 messages of 4,000 characters is over 3 MiB.
                    max_size=2**25,
                ) as ws:
                    greeted = await self._session(ws)
                    code, reason = int(ws.close_code or 1006), ws.close_reason or ""
            except InvalidStatus as error:
                status = error.response.status_code
                if status == 401:
                    self._dropped()
                    self._stop(401, "the server refused the token")
                    return
                reason = f"HTTP {status} on connecting"
            except (OSError, TimeoutError, WebSocketException, ValueError) as error:
                reason = f"{type(error).__name__}: {error}"
            self._dropped()
            if self.state in ("closed", "stopped"):
                self._emit("close", {"code": code, "reason": reason, "delay": None})
                return
            if code == 4001:
                self._stop(code, reason)
                return
            soon = greeted and code == 4002
            delay = self._backoff.delay(0 if soon else self._attempt)
            if not soon:
                self._attempt += 1
            self._set_state("waiting")
            self._emit("close", {"code": code, "reason": reason, "delay": delay})
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    async def _session(self, ws: ClientConnection) -> bool:
        """Reads one connection until it closes; True if it said ``hello``."""
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), self._connect_timeout))
        except (ConnectionClosed, TimeoutError, ValueError):
            return False
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            self._emit("error", PalaverError("protocol", f"the first frame is not hello: {str(hello)[:200]}"))
            return False
        if hello.get("protocol") != PROTOCOL_VERSION:
            error = PalaverError("protocol", f"the server speaks protocol {hello.get('protocol')}; this library speaks {PROTOCOL_VERSION}")
            self._emit("error", error)
            self._set_state("stopped")
            self._fail_waiters(error)
            return True
        queue: asyncio.Queue = asyncio.Queue()
        writer = asyncio.ensure_future(self._write(ws, queue))
        self._outq = queue
        try:
            self._greet(hello)
            async for raw in ws:
                self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            self._outq = None
            writer.cancel()
        return True

    @staticmethod
    async def _write(ws: ClientConnection, queue: asyncio.Queue) -> None:
        try:
            while True:
                await ws.send(await queue.get())
        except ConnectionClosed:
            pass  # the reader sees the close

    def _greet(self, hello: dict) -> None:
        self.user = hello.get("user")
        self._attempt = 0
        self._set_state("open")
        reconnect, self._ever_open = self._ever_open, True
        for subscription in list(self._subscriptions.values()):
            subscription._catch_up()
        self._pump()
        for waiter in self._open_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._open_waiters = []
        self._emit("open", {"hello": hello, "reconnect": reconnect})

    def _dropped(self, lost: PalaverError | None = None) -> None:
        self._outq = None
        lost = lost or PalaverError("disconnected", "the connection dropped before the reply came")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(lost)
        self._pending.clear()
        self._outbox.land_all()

    def _stop(self, code: int, reason: str) -> None:
        self._set_state("stopped")
        self._emit("close", {"code": code, "reason": reason, "delay": None})
        self._emit("unauthorized", {"code": code, "reason": reason})
        self._fail_waiters(PalaverError("unauthorized", reason or "the server no longer accepts this token"))

    def _fail_waiters(self, error: PalaverError) -> None:
        for waiter in self._open_waiters:
            if not waiter.done():
                waiter.set_exception(error)
        self._open_waiters = []

    async def _when_open(self, deadline: float) -> None:
        if self.state == "open":
            return
        if self.state == "closed":
            raise PalaverError("closed", "the client was closed")
        if self.state == "stopped":
            raise PalaverError("unauthorized", "the server no longer accepts this token")
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._open_waiters.append(waiter)
        remaining = deadline - loop.time()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), None if remaining == float("inf") else max(0.0, remaining))
        except TimeoutError:
            raise PalaverError("timeout", "not connected in time") from None
        finally:
            if waiter in self._open_waiters:
                self._open_waiters.remove(waiter)

    def _frame(self, frame: dict) -> None:
        if self._outq is None or self.state != "open":
            raise PalaverError("disconnected", "not connected")
        self._outq.put_nowait(json.dumps(frame, ensure_ascii=False))

    async def _request_once(self, type: str, fields: dict, timeout: float) -> dict:
        request_id = self._next_id
        self._next_id += 1
        future = asyncio.get_running_loop().create_future()
        self._frame({**fields, "type": type, "id": request_id})
        self._pending[request_id] = future
        try:
            return await asyncio.wait_for(future, max(0.0, timeout))
        except TimeoutError:
            raise PalaverError("timeout", f"no reply to `{type}` in {timeout:.1f} s") from None
        finally:
            self._pending.pop(request_id, None)

    def _receive(self, raw: Any) -> None:
        try:
            frame = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            frame = None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self._emit("error", PalaverError("protocol", f"an unreadable frame from the server: {str(raw)[:200]}"))
            return
        kind = frame["type"]
        if kind in ("ok", "error"):
            self._settle(frame)
            return
        if kind == "message" and isinstance(frame.get("message"), dict):
            subscription = self._subscriptions.get(frame["message"].get("room"))
            if subscription is not None:
                subscription._live(frame["message"])
        elif kind == "message_updated" and isinstance(frame.get("message"), dict):
            subscription = self._subscriptions.get(str(frame.get("room")))
            if subscription is not None:
                subscription._updated(frame["message"])
        elif kind == "room_removed":
            subscription = self._subscriptions.get(str(frame.get("room")))
            if subscription is not None:
                subscription._removed()
        self._emit("event", frame)

    def _settle(self, frame: dict) -> None:
        request_id = frame.get("id")
        if not isinstance(request_id, int):
            if frame["type"] == "error":  # about no command in particular (`unauthorized` before 4001)
                self._emit("error", PalaverError.from_frame(frame))
            return
        future = self._pending.pop(request_id, None)
        if future is not None:
            if future.done():
                return
            if frame["type"] == "ok":
                future.set_result(frame.get("data") or {})
            else:
                future.set_exception(PalaverError.from_frame(frame))
            return
        entry = self._outbox.by_request(request_id)
        if entry is not None:
            self._send_settled(entry, frame)

    # ---- the outbox ----

    def _pump(self) -> None:
        if self._outq is None or self.state != "open":
            return
        loop = asyncio.get_running_loop()
        wait = self._paused_until - loop.time()
        if wait > 0:
            if self._pump_timer is not None:
                self._pump_timer.cancel()
            self._pump_timer = loop.call_later(wait, self._pump)
            return
        in_flight = sum(1 for entry in self._outbox.entries if entry.in_flight is not None)
        for entry in self._outbox.entries:
            if in_flight >= self._window:
                break
            if entry.in_flight is not None:
                continue
            entry.in_flight = self._next_id
            self._next_id += 1
            in_flight += 1
            frame = {"type": "send", "id": entry.in_flight, **{k: v for k, v in entry.item.items() if k != "queued_at"}}
            self._frame(frame)

    def _send_settled(self, entry: Entry, frame: dict) -> None:
        entry.in_flight = None
        if frame["type"] == "ok":
            message = (frame.get("data") or {}).get("message")
            self._outbox.remove(entry)
            self._window = min(self._max_window, self._window * 2)
            if entry.future is not None and not entry.future.done():
                entry.future.set_result(message)
            self._emit("sent", {"pending": dict(entry.item), "message": message})
        else:
            error = PalaverError.from_frame(frame)
            if error.code == "rate_limited":
                self._window = 1
                self._pause(min((error.retry_after_ms or 1000) / 1000, 60.0))
            elif error.code == "unavailable" and entry.failures < self._max_send_failures:
                entry.failures += 1
                self._pause(Backoff(0.5, 10.0).delay(entry.failures - 1))
            else:
                self._outbox.remove(entry)
                if entry.future is not None and not entry.future.done():
                    entry.future.set_exception(error)
                    entry.future.exception()  # the caller may have stopped waiting
                self._emit("send_failed", {"pending": dict(entry.item), "error": error})
        self._pump()

    def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, asyncio.get_running_loop().time() + seconds)
