"""The objects of the Palaver protocol, version 1 (docs/protocol.md section 3), as TypedDicts for
type checkers; at run time they are the plain dicts of the wire. The server only adds fields."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class User(TypedDict):
    id: str
    name: str
    kind: Literal["user", "bot", "system"]
    #: Not in a message's ``sender``.
    online: NotRequired[bool]


class Room(TypedDict):
    id: str
    kind: Literal["group", "direct", "bot"]
    name: str
    public: bool
    owner: str | None
    members_count: int
    last_seq: int
    read_seq: int
    unread: int
    notify: NotRequired[Literal["all", "mentions", "none"]]


class FileInfo(TypedDict):
    id: str
    name: str
    mime: str
    size: int
    width: NotRequired[int]
    height: NotRequired[int]
    thumbnail: bool


class Action(TypedDict):
    message: str
    id: str


class Message(TypedDict):
    id: str
    room: str
    seq: int
    ts: str
    sender: User
    body: str
    #: A bot's or the system's template (section 6), else None.
    template: dict | None
    client_msg_id: str | None
    action: Action | None
    files: list[FileInfo]


class Hello(TypedDict):
    type: Literal["hello"]
    protocol: int
    session: str
    user: User
    heartbeat_s: int


class JoinReply(TypedDict):
    room: Room
    members: list[User]
    messages: list[Message]
    has_more: bool
