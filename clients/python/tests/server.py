"""The real palaver server for the tests: started on a random loopback port on a fresh SQLite file
or PostgreSQL database, killed (SIGKILL) and restarted on the same port; a TCP proxy whose
connections the test can cut or silence; users made through the admin API; a small real PNG."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

ADMIN = "clients-test-admin"
REPO = Path(__file__).resolve().parents[3]
PG = os.environ.get("PALAVER_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")


def server_binary() -> str:
    """PALAVER_BIN (tests/clients.rs passes cargo's), else target/debug/palaver."""
    binary = os.environ.get("PALAVER_BIN") or str(REPO / "target/debug/palaver")
    if not Path(binary).exists():
        raise RuntimeError(f"no server binary at {binary}: run cargo build --bin palaver or set PALAVER_BIN")
    return binary


def psql(sql: str) -> None:
    subprocess.run(["psql", "-q", "-X", "-d", PG, "-c", sql], check=True, capture_output=True, timeout=30)


def backends() -> list[str]:
    """SQLite always; PostgreSQL when reachable (required when CI is set)."""
    try:
        psql("SELECT 1")
        return ["sqlite", "postgres"]
    except (OSError, subprocess.SubprocessError) as error:
        if os.environ.get("CI"):
            raise RuntimeError(f"PostgreSQL is required in CI and is not reachable at {PG}: {error}") from error
        print(f"SKIPPED on PostgreSQL: not reachable at {PG} (set PALAVER_TEST_PG or start it)")
        return ["sqlite"]


class Database:
    def __init__(self, backend: str) -> None:
        self._dir: str | None = None
        self._name: str | None = None
        if backend == "sqlite":
            self._dir = tempfile.mkdtemp(prefix="palaver-client-")
            self.url = f"sqlite://{self._dir}/palaver.db"
        else:
            self._name = f"palaver_pyclient_{os.getpid()}_{random.randrange(10**9)}"
            psql(f"CREATE DATABASE {self._name}")
            self.url = PG.rsplit("/", 1)[0] + "/" + self._name

    def drop(self) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
        if self._name:
            psql(f"DROP DATABASE IF EXISTS {self._name} WITH (FORCE)")


def _spawn(db_url: str, bind: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen(
        [server_binary(), "--bind", bind, "--database-url", db_url, "--admin-token", ADMIN, *extra],
        stdout=subprocess.PIPE,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        text=True,
    )
    line = child.stdout.readline() if child.stdout else ""
    prefix = "palaver listening on "
    if not line.startswith(prefix):
        child.kill()
        child.wait()
        raise RuntimeError(f"the server did not start on {bind}: {line!r}")
    return child, line[len(prefix):].strip()


class Server:
    def __init__(self, backend: str, extra: list[str] | None = None) -> None:
        self.db = Database(backend)
        self.extra = extra or []
        last: Exception | None = None
        for _ in range(30):
            self.port = random.randrange(10_000, 30_000)
            try:
                self.child, self.base = _spawn(self.db.url, f"127.0.0.1:{self.port}", self.extra)
                return
            except RuntimeError as error:
                last = error
        self.db.drop()
        raise RuntimeError(f"could not start the server: {last}")

    def kill(self) -> None:
        """kill -9, and wait for the process to be gone."""
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()
        if self.child.stdout:
            self.child.stdout.close()

    def restart(self) -> None:
        """A new server on the same database and port."""
        last: Exception | None = None
        for _ in range(50):
            try:
                self.child, _ = _spawn(self.db.url, f"127.0.0.1:{self.port}", self.extra)
                return
            except RuntimeError as error:
                last = error
                time.sleep(0.1)
        raise RuntimeError(f"could not restart the server: {last}")

    def stop(self) -> None:
        self.kill()
        self.db.drop()

    def admin(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read()
            return error.code, json.loads(text) if text else None

    def user(self, name: str) -> dict:
        status, body = self.admin("POST", "/admin/users", {"name": name})
        assert status == 201, body
        return {"id": body["user"]["id"], "token": body["token"]}

    def messages(self, room: str) -> list[dict]:
        """Every stored message of a room, oldest first."""
        out: list[dict] = []
        before = ""
        while True:
            status, body = self.admin("GET", f"/admin/rooms/{room}/messages?limit=200{before}")
            assert status == 200, body
            out[:0] = body["messages"]
            if not body["has_more"] or not body["messages"]:
                return out
            before = f"&before_seq={body['messages'][0]['seq']}"


class _Pair:
    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream = upstream
        #: Set once the proxy has sent its own close frame: the server's bytes are dropped.
        self.swallow = False
        #: The network went silent: nothing is carried either way, nothing is closed.
        self.blackhole = False


class Proxy:
    """A TCP proxy in front of the server (asyncio, on the test's loop): ``cut()`` drops every
    connection at the TCP level (RST); ``close_with(code)`` sends each client a WebSocket close
    frame with that code, as the server does, and ends the connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.pairs: set[_Pair] = set()
        self.accepted = 0
        #: While set, every new connection is closed as soon as it is accepted.
        self.refusing = False

    async def start(self) -> "Proxy":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        pair = _Pair(writer, up_writer)
        self.pairs.add(pair)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, downstream: bool) -> None:
            try:
                while data := await src.read(65536):
                    if pair.blackhole or (downstream and pair.swallow):
                        continue
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                # In a black hole the server's close (after its heartbeats went unanswered) does
                # not reach the client either: the client must find out by itself.
                if not (downstream and pair.blackhole):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))
        self.pairs.discard(pair)

    def cut(self) -> int:
        n = len(self.pairs)
        for pair in list(self.pairs):
            sock = pair.client.get_extra_info("socket")
            # One whose other side closed it already (a 4001 close that the pipes are still
            # passing on) has no descriptor left to reset.
            if sock is not None and sock.fileno() != -1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            pair.client.transport.abort()
            pair.upstream.transport.abort()
        self.pairs.clear()
        return n

    def blackhole(self) -> int:
        """Every connection open now stops carrying bytes either way and stays open (a phone that
        lost its signal); new ones work."""
        for pair in self.pairs:
            pair.blackhole = True
        return len(self.pairs)

    def close_with(self, code: int) -> int:
        n = len(self.pairs)
        for pair in list(self.pairs):
            pair.swallow = True
            pair.client.write(bytes([0x88, 0x02, code >> 8, code & 0xFF]))
            pair.client.close()
            pair.upstream.transport.abort()
        self.pairs.clear()
        return n

    async def close(self) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()


def png(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes([0x80 + y]) * (width * 3) for y in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def until(check, timeout: float = 15.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.025)
