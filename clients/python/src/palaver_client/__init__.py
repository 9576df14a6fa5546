"""palaver-client: a client for the Palaver chat server, protocol version 1 (asyncio, on websockets)."""

from .backoff import Backoff
from .bots import WebhookServer, button, card, text
from .client import EVENTS, PROTOCOL_VERSION, PalaverClient, new_client_msg_id
from .errors import CLIENT_CODES, PalaverError
from .files import http_base
from .frames import Action, FileInfo, Hello, JoinReply, Message, Room, User
from .outbox import OutboxStore
from .revisions import Revisions
from .room import RoomSubscription
from .sequencer import Sequencer
from .sync import SyncClient, SyncRoom

__version__ = "1.1.0"

__all__ = [
    "Action",
    "FileInfo",
    "Hello",
    "JoinReply",
    "Message",
    "Room",
    "User",
    "Backoff",
    "CLIENT_CODES",
    "EVENTS",
    "OutboxStore",
    "PROTOCOL_VERSION",
    "PalaverClient",
    "PalaverError",
    "Revisions",
    "RoomSubscription",
    "Sequencer",
    "SyncClient",
    "SyncRoom",
    "WebhookServer",
    "button",
    "card",
    "http_base",
    "new_client_msg_id",
    "text",
    "__version__",
]
