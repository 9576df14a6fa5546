"""One room's changes to messages (section 11: edits, deletes, reactions), each state handed out
once and never an older one after a newer, whichever way it came (a live ``message_updated``, a
``changes`` page after a reconnect, a ``join`` page that already had the latest state). Keeps
``last_rev``, the room ``rev`` up to which the app has every change. Pure: no I/O."""

from __future__ import annotations

from typing import Any, Mapping


def _rev(message: Mapping[str, Any]) -> int:
    rev = message.get("rev", 0)
    return rev if isinstance(rev, int) and not isinstance(rev, bool) else 0


class Revisions:
    def __init__(self, last_rev: int | None = None, max_kept: int = 10_000) -> None:
        #: The room ``rev`` up to which every change was handed out; None before the first ``join``.
        self.last_rev = last_rev
        #: The highest ``rev`` handed out for each message (the oldest forgotten past ``max_kept``).
        self._seen: dict[str, int] = {}
        #: The latest state of messages not handed out yet (their ``message`` is on its way).
        self._held: dict[str, Mapping[str, Any]] = {}
        self._max_kept = max_kept
        #: Set while a catch-up runs: live changes then count only once it has finished.
        self._catching = False
        self._live_max = 0

    def needs_changes(self, room_last_rev: int) -> bool:
        """Whether a ``changes`` request from ``last_rev`` is needed to reach ``room_last_rev``."""
        return self.last_rev is not None and self.last_rev < room_last_rev

    def begin_catch_up(self) -> None:
        """A (re)connection's catch-up starts: until :meth:`end_catch_up`, live changes are handed
        out but do not move ``last_rev`` (a ``changes`` page before them may still be missing)."""
        self._catching = True
        self._live_max = 0

    def end_catch_up(self, rev: int) -> None:
        """The catch-up ended with everything up to ``rev`` (a ``changes`` reply's or the room's ``last_rev``)."""
        self._catching = False
        self.last_rev = max(self.last_rev or 0, rev, self._live_max)
        self._live_max = 0

    def hand_out(self, message: Mapping[str, Any]) -> Mapping[str, Any]:
        """A message is being handed out as a ``message``: returns the state to hand out (a change
        that came first, held back, replaces it when it is newer)."""
        later = self._held.pop(str(message.get("id")), None)
        out = later if later is not None and _rev(later) > _rev(message) else message
        if _rev(out) > 0:
            self._remember(str(out.get("id")), _rev(out))
        return out

    def change(self, message: Mapping[str, Any], known: bool, live: bool) -> Mapping[str, Any] | None:
        """A change: returns the message to hand out as an update, or None (a state already handed
        out or older, or a message not handed out yet, whose state is then held for
        :meth:`hand_out`). ``live``: it came as an event on this connection."""
        rev = _rev(message)
        if rev < 1:
            return None
        if live:
            if self._catching:
                self._live_max = max(self._live_max, rev)
            elif self.last_rev is not None:
                self.last_rev = max(self.last_rev, rev)
        key = str(message.get("id"))
        if not known:
            held = self._held.get(key)
            if held is None or _rev(held) < rev:
                self._held.pop(key, None)
                self._held[key] = message
                if len(self._held) > self._max_kept:
                    del self._held[next(iter(self._held))]
            return None
        if self._seen.get(key, 0) >= rev:
            return None
        self._remember(key, rev)
        return message

    def _remember(self, key: str, rev: int) -> None:
        self._seen.pop(key, None)
        self._seen[key] = rev
        if len(self._seen) > self._max_kept:
            del self._seen[next(iter(self._seen))]
