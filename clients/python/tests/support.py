"""Clients for the end-to-end tests (fast reconnects), a JSON file outbox store, stream checks,
what an app shows of a room."""

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


class View:
    """What an app shows of a subscription: every message by id at its latest state (messages,
    then updates applied), and the updates as they came. ``messages``: kept from an earlier run.
    ``problems``: what it saw that a stream must never do (a callback's assertion would only
    reach the loop's exception handler)."""

    def __init__(self, subscription, messages=None):
        self.messages = dict(messages or {})
        self.updates = []
        self.problems = []
        subscription.on_message(self._message)
        subscription.on_update(self._update)

    def _message(self, message):
        if message["id"] in self.messages:
            self.problems.append(f"{message['id']} handed out twice")
        self.messages[message["id"]] = message

    def _update(self, message):
        known = self.messages.get(message["id"])
        if known is None:
            self.problems.append(f"an update of {message['id']}, which was never handed out")
        elif message["rev"] <= known["rev"]:
            self.problems.append(f"{message['id']}: rev {message['rev']} after {known['rev']}")
        self.messages[message["id"]] = message
        self.updates.append(message)

    def shown(self):
        return [shown(m) for m in sorted(self.messages.values(), key=lambda m: m["seq"])]


def shown(message):
    """A message as every reader sees it (``me`` aside): what a view must agree with the store on."""
    keys = ("id", "seq", "body", "deleted", "edited", "rev", "mentions")
    out = {key: message[key] for key in keys}
    out["reply_to"] = (message["reply_to"] or {}).get("id")
    out["reactions"] = [{"emoji": r["emoji"], "count": r["count"]} for r in message["reactions"]]
    return out
