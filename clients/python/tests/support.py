"""Clients for the end-to-end tests (fast reconnects), a JSON file outbox store, stream checks."""

import json
import os
from pathlib import Path

from palaver_client import Backoff, PalaverClient


def client(base, token, **options):
    options.setdefault("backoff", Backoff(initial=0.05, maximum=0.4))
    options.setdefault("request_timeout", 15.0)
    return PalaverClient(base, token, **options)


class FileStore:
    """The outbox in a JSON file, written whole and renamed into place on every change."""

    def __init__(self, path):
        self.path = Path(path)

    def load(self):
        return json.loads(self.path.read_text()) if self.path.exists() else []

    def save(self, items):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(items))
        os.replace(tmp, self.path)


def collect(subscription):
    got = []
    subscription.on_message(got.append)
    return got


def assert_gapless(messages, bodies, what):
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1)), f"{what}: seq 1..n, no gap, no repeat"
    assert sorted(m["body"] for m in messages) == sorted(bodies), f"{what}: every body once"
