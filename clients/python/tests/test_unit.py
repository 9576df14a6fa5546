"""The pure parts: back-off, the sequencer, the revisions, URLs, ids, the bounded outbox and its store."""

import asyncio
import socket

import pytest

from palaver_client import Backoff, PalaverClient, PalaverError, Revisions, Sequencer, http_base, new_client_msg_id


def message(seq):
    return {"id": f"m_1_{seq}", "room": "r_1", "seq": seq, "body": f"b{seq}"}


def test_backoff_grows_is_bounded_and_jittered_in_the_upper_half():
    backoff = Backoff(initial=0.1, maximum=1.0)
    assert backoff.delay(0, lambda: 0) == pytest.approx(0.05)
    assert backoff.delay(0, lambda: 1) == pytest.approx(0.1)
    assert backoff.delay(3, lambda: 1) == pytest.approx(0.8)
    assert backoff.delay(50, lambda: 1) == pytest.approx(1.0)
    assert backoff.delay(10**9, lambda: 0) == pytest.approx(0.5)
    seen = {Backoff().delay(2) for _ in range(50)}
    assert len(seen) > 10
    assert all(0.5 <= delay <= 1.0 for delay in seen)


def state(seq, rev, body=None):
    return {**message(seq), "rev": rev, "body": body or f"b{seq} at {rev}"}


def test_revisions_hand_out_each_state_of_a_message_once_never_an_older_after_a_newer():
    revisions = Revisions(4)
    assert revisions.change(state(1, 5), True, True)["rev"] == 5
    assert revisions.last_rev == 5, "a live change moves last_rev"
    assert revisions.change(state(1, 5), True, False) is None, "the same state again (a changes page)"
    assert revisions.change(state(1, 3), True, False) is None, "an older state"
    assert revisions.change(state(1, 0), True, True) is None, "rev 0 is no change"
    assert revisions.change({**state(1, 9), "rev": True}, True, True) is None, "a rev that is no integer"
    assert revisions.change(state(2, 6), True, True)["rev"] == 6
    assert revisions.change(state(1, 7), True, True)["body"] == "b1 at 7"
    assert revisions.last_rev == 7
    assert not revisions.needs_changes(7) and revisions.needs_changes(9)


def test_revisions_count_live_changes_during_a_catch_up_only_when_it_ends():
    revisions = Revisions(4)
    revisions.begin_catch_up()
    assert revisions.change(state(3, 9), True, True)["rev"] == 9, "handed out at once"
    assert revisions.last_rev == 4, "but a changes page of 5..8 may still be missing"
    assert revisions.change(state(1, 6), True, False)["rev"] == 6
    assert revisions.change(state(3, 8), True, False) is None, "older than the live state"
    revisions.end_catch_up(8)
    assert revisions.last_rev == 9
    cut = Revisions(4)
    cut.begin_catch_up()
    cut.change(state(3, 9), True, True)
    cut.begin_catch_up()
    assert cut.last_rev == 4, "a catch-up cut short starts again from where it was"


def test_revisions_hold_a_change_to_a_message_not_handed_out_yet_for_its_message():
    revisions = Revisions(None)
    assert revisions.change(state(7, 3), False, True) is None
    assert revisions.change(state(7, 2), False, True) is None, "an older held state is dropped"
    assert revisions.last_rev is None, "nothing is known before the first join"
    assert revisions.hand_out(state(7, 0))["body"] == "b7 at 3"
    assert revisions.change(state(7, 3), True, False) is None, "that state is not handed out again"
    assert revisions.hand_out(state(8, 1))["rev"] == 1
    revisions.end_catch_up(3)
    assert revisions.last_rev == 3
    small = Revisions(0, max_kept=2)
    for seq in (1, 2, 3):
        small.change(state(seq, seq), False, False)
    assert small.hand_out(state(1, 0))["rev"] == 0, "past max_kept the oldest held state is let go"
    assert small.hand_out(state(3, 0))["rev"] == 3


def test_the_sequencer_hands_out_each_message_once_in_order_without_gaps():
    sequencer = Sequencer(2)
    assert sequencer.accept(message(2)) == []
    assert sequencer.accept(message(5)) == []
    assert sequencer.has_gap
    assert sequencer.accept(message(4)) == []
    assert sequencer.accept(message(4)) == []
    assert [m["seq"] for m in sequencer.accept(message(3))] == [3, 4, 5]
    assert sequencer.last_seq == 5 and not sequencer.has_gap
    assert sequencer.accept(message(3)) == []
    assert sequencer.accept({**message(6), "seq": True}) == []
    assert sequencer.accept({**message(6), "seq": -1}) == []
    assert [m["seq"] for m in sequencer.accept(message(6))] == [6]


def test_a_sequencer_without_a_start_holds_messages_until_it_has_one():
    sequencer = Sequencer()
    assert sequencer.accept(message(8)) == []
    assert sequencer.accept(message(7)) == []
    assert [m["seq"] for m in sequencer.start_at(6)] == [7, 8]
    assert sequencer.start_at(0) == []
    assert sequencer.last_seq == 8


def test_the_sequencer_holds_back_a_bounded_number():
    sequencer = Sequencer(0, max_waiting=3)
    for seq in (2, 3, 4, 5):
        sequencer.accept(message(seq))
    assert sequencer.waiting_count <= 3


def test_server_urls():
    assert http_base("https://chat.example.com/") == "https://chat.example.com"
    assert http_base("wss://chat.example.com/ws") == "https://chat.example.com"
    assert http_base("ws://127.0.0.1:8080") == "http://127.0.0.1:8080"
    with pytest.raises(ValueError, match="http"):
        http_base("chat.example.com")


def test_client_msg_ids_are_random_128_bits():
    ids = {new_client_msg_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 34 and i.startswith("c_") and int(i[2:], 16) >= 0 for i in ids)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_offline_queue_is_bounded_and_restores_only_well_formed_sends():
    saved = []

    class Store:
        def load(self):
            return [
                {"client_msg_id": "c_1", "room": "r_1", "body": "kept", "queued_at": 1},
                {"client_msg_id": "c_1", "room": "r_1", "body": "a repeat", "queued_at": 1},
                {"room": "r_1", "body": "no id"},
                "nonsense",
                {"client_msg_id": "c_2", "room": "r_1", "body": "bad files", "files": [1]},
            ]

        def save(self, items):
            saved.append(items)

    async def scenario():
        # Nothing listens on this port: the client stays offline and keeps what it is given.
        client = PalaverClient(f"http://127.0.0.1:{closed_port()}", "t", max_queue=3, outbox_store=Store(),
                               backoff=Backoff(initial=10))
        connecting = asyncio.ensure_future(client.connect())
        await asyncio.sleep(0.05)
        assert [item["body"] for item in client.queued] == ["kept"]
        first = asyncio.ensure_future(client.send("r_1", "one"))
        second = asyncio.ensure_future(client.send("r_1", "two"))
        await asyncio.sleep(0)
        with pytest.raises(PalaverError) as full:
            await client.send("r_1", "three")
        assert full.value.code == "queue_full"
        await client.saved()
        assert [item["body"] for item in saved[-1]] == ["kept", "one", "two"]
        await client.close()
        for pending in (first, second, connecting):
            with pytest.raises(PalaverError) as closed:
                await pending
            assert closed.value.code == "closed"
        assert [item["body"] for item in saved[-1]] == ["kept", "one", "two"], "a close keeps the queue"

    asyncio.run(scenario())
