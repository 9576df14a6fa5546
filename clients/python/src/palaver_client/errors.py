"""PalaverError: a failed command, send or upload, with the server's code or the library's own."""

from __future__ import annotations

#: Codes the library gives itself, beside the server's (protocol section 2):
#: ``disconnected`` (the connection dropped before the reply: the command may or may not have
#: run; sends are not affected), ``timeout``, ``closed``, ``queue_full``, ``protocol``.
CLIENT_CODES = ("disconnected", "timeout", "closed", "queue_full", "protocol")


class PalaverError(Exception):
    """``code`` is the server's error code (``not_found``, ``rate_limited``…) or one of CLIENT_CODES."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after_ms: int | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms
        #: The HTTP status, for an upload or download.
        self.status = status

    @classmethod
    def from_frame(cls, frame: dict) -> "PalaverError":
        retry = frame.get("retry_after_ms")
        return cls(
            str(frame.get("code", "internal")),
            str(frame.get("message", "")),
            retry_after_ms=retry if isinstance(retry, int) else None,
        )
