"""Files over HTTP (protocol section 9): upload and download, on the standard library in a thread."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request

from .errors import PalaverError
from .frames import FileInfo


def http_base(url: str) -> str:
    """The http(s) base of a server from http(s):// or ws(s)://, with or without /ws."""
    base = url.strip().rstrip("/")
    if base.startswith("ws://"):
        base = "http://" + base[5:]
    elif base.startswith("wss://"):
        base = "https://" + base[6:]
    if not (base.startswith("http://") or base.startswith("https://")):
        raise ValueError(f"the server URL must be http(s):// or ws(s)://, not {url!r}")
    return base[: -len("/ws")] if base.endswith("/ws") else base


def ws_url(base: str, token: str) -> str:
    return "ws" + base[4:] + "/ws?token=" + urllib.parse.quote(token, safe="")


def _error(status: int, body: bytes, retry_after: str | None) -> PalaverError:
    code, message, retry = f"http_{status}", body.decode("utf-8", "replace") or f"HTTP {status}", None
    try:
        parsed = json.loads(body)
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code", code))
            message = str(error.get("message", message))
            if isinstance(error.get("retry_after_ms"), int):
                retry = error["retry_after_ms"]
    except ValueError:
        pass  # not JSON (a proxy's page): the text is the message
    if retry is None and retry_after and retry_after.isdigit():
        retry = int(retry_after) * 1000
    return PalaverError(code, message, retry_after_ms=retry, status=status)


def _call(method: str, url: str, token: str, body: bytes | None, content_type: str | None, timeout: float) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        raise _error(error.code, error.read(), error.headers.get("Retry-After")) from None


async def upload(base: str, token: str, data: bytes, name: str, content_type: str, retries: int, timeout: float) -> FileInfo:
    url = f"{base}/files?name={urllib.parse.quote(name, safe='')}"
    for attempt in range(min(max(0, retries), 10) + 1):
        try:
            status, body = await asyncio.to_thread(_call, "POST", url, token, bytes(data), content_type, timeout)
        except PalaverError as error:
            if error.code not in ("rate_limited", "unavailable") or attempt >= retries:
                raise
            await asyncio.sleep(min((error.retry_after_ms or 1000 * 2**attempt) / 1000, 60))
            continue
        parsed = json.loads(body)
        file = parsed.get("file") if isinstance(parsed, dict) else None
        if status != 201 or not isinstance(file, dict):
            raise PalaverError("protocol", f"the upload answer holds no file (HTTP {status})", status=status)
        return file  # type: ignore[return-value]
    raise PalaverError("protocol", "unreachable")  # the loop returns or raises


async def download(base: str, token: str, path: str, timeout: float) -> bytes:
    _status, body = await asyncio.to_thread(_call, "GET", base + path, token, None, None, timeout)
    return body

