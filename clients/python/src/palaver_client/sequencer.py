"""One room's messages in ``seq`` order with no gap and no repeat, however they came. Pure: no I/O."""

from __future__ import annotations

from typing import Any, Mapping


class Sequencer:
    def __init__(self, last_seq: int | None = None, max_waiting: int = 10_000) -> None:
        #: The seq of the last message handed out; None before the first page said where to start.
        self.last_seq = last_seq
        self._waiting: dict[int, Mapping[str, Any]] = {}
        self._max_waiting = max_waiting

    @property
    def has_gap(self) -> bool:
        """True while a message past the next expected one is held back."""
        return bool(self._waiting)

    @property
    def waiting_count(self) -> int:
        return len(self._waiting)

    def start_at(self, last_seq: int) -> list[Any]:
        """Sets an unknown start (the first page without ``after_seq``); returns what may go out."""
        if self.last_seq is not None:
            return []
        self.last_seq = last_seq
        for seq in [seq for seq in self._waiting if seq <= last_seq]:
            del self._waiting[seq]
        return self._drain()

    def accept(self, message: Mapping[str, Any]) -> list[Any]:
        """Takes one message; returns the messages that may now be handed out, in order. Past
        ``max_waiting`` held-back messages they are let go: a later page brings them again."""
        seq = message.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            return []
        if self.last_seq is not None and seq <= self.last_seq:
            return []
        if seq in self._waiting:
            return []
        self._waiting[seq] = message
        if len(self._waiting) > self._max_waiting:
            highest = max(self._waiting)
            self._waiting.clear()
            if seq == highest:
                self._waiting[seq] = message
        return self._drain()

    def _drain(self) -> list[Any]:
        out: list[Any] = []
        if self.last_seq is None:
            return out
        while (nxt := self._waiting.pop(self.last_seq + 1, None)) is not None:
            self.last_seq = nxt["seq"]
            out.append(nxt)
        return out
