"""The library against the real server (tests/clients.rs gives PALAVER_BIN), on SQLite and on
PostgreSQL: chat, errors, resume after a SIGKILL of the server and after a TCP cut, changes
(edits, deletes, reactions) caught up after a cut and after a client's restart, close codes
4001 and 4002, rate limits, uploads, a client process killed around a restart, the sync wrapper,
and the README's bot."""

import asyncio
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from palaver_client import Backoff, PalaverError, SyncClient, WebhookServer, button, card, text
from server import Proxy, png, until
from support import FileStore, View, assert_gapless, client, collect, shown

HERE = Path(__file__).parent


def run(scenario, timeout=90):
    """Runs a scenario on a loop of its own; a hang fails the test instead of stalling the run."""
    asyncio.run(asyncio.wait_for(scenario, timeout))


def group(server):
    amy, bob = server.user("amy"), server.user("bob")
    status, body = server.admin(
        "POST", "/admin/rooms", {"kind": "group", "name": "study", "members": [amy["id"], bob["id"]], "owner": amy["id"]}
    )
    assert status == 201, body
    return amy, bob, body["room"]["id"]


async def closing(*clients):
    for made in clients:
        await made.close()


def test_two_people_chat_commands_answer_and_bad_input_is_a_palaver_error(backend, start_server):
    server = start_server(backend)
    amy, bob, room = group(server)

    async def scenario():
        a, b = client(server.base, amy["token"]), client(server.base, bob["token"])
        try:
            await asyncio.gather(a.connect(), b.connect())
            assert a.user["id"] == amy["id"]
            a_stream, b_stream = collect(a.subscribe(room)), collect(b.subscribe(room))
            await asyncio.gather(a.subscribe(room).ready(), b.subscribe(room).ready())
            sent = await a.send(room, "hi bob")
            assert sent["seq"] == 1 and sent["client_msg_id"].startswith("c_")
            await b.send(room, "hi amy")
            await until(lambda: len(a_stream) == 2 and len(b_stream) == 2, what="both messages")
            assert [m["body"] for m in b_stream] == ["hi bob", "hi amy"]
            assert a_stream == b_stream

            rooms = (await a.request("rooms"))["rooms"]
            assert [r["id"] for r in rooms] == [room]
            for command, fields, code in [
                ("join", {"room": "r_999"}, "not_found"),
                ("read", {"room": room, "seq": 99}, "bad_request"),
                ("open_direct", {"user": amy["id"]}, "bad_request"),
            ]:
                with pytest.raises(PalaverError) as refused:
                    await a.request(command, fields)
                assert refused.value.code == code

            failed = []
            a.on("send_failed", failed.append)
            for room_id, body, code in [("r_999", "nowhere", "not_found"), (room, "x" * 4001, "too_large")]:
                with pytest.raises(PalaverError) as refused:
                    await a.send(room_id, body)
                assert refused.value.code == code
            assert [f["error"].code for f in failed] == ["not_found", "too_large"]
            assert a.queued == []

            nowhere = a.subscribe("r_999")
            with pytest.raises(PalaverError) as missing:
                await nowhere.ready()
            assert missing.value.code == "not_found" and not nowhere.active

            first = await a.send(room, "once", client_msg_id="c-fixed")
            again = await a.send(room, "once, again", client_msg_id="c-fixed")
            assert again["id"] == first["id"] and again["body"] == "once"
            assert [m["body"] for m in server.messages(room)] == ["hi bob", "hi amy", "once"]
        finally:
            await closing(a, b)

    run(scenario())


def test_a_subscription_pages_from_after_seq_in_order_once(backend, start_server):
    server = start_server(backend)
    amy, _bob, room = group(server)
    for i in range(1, 26):
        assert server.admin("POST", f"/admin/rooms/{room}/messages", {"body": f"old {i}"})[0] == 201

    async def scenario():
        a = client(server.base, amy["token"], join_limit=7)
        try:
            await a.connect()
            whole = a.subscribe(room, after_seq=0)
            got = collect(whole)
            await whole.ready()
            assert [m["seq"] for m in got] == list(range(1, 26)) and whole.last_seq == 25
            whole.end()
            tail = a.subscribe(room, after_seq=20)
            rest = collect(tail)
            await tail.ready()
            assert [m["seq"] for m in rest] == [21, 22, 23, 24, 25]
            tail.end()
            newest = a.subscribe(room, limit=5)
            page = []

            async def read():
                async for message in newest:
                    page.append(message)
                    if len(page) == 5:
                        return

            reader = asyncio.ensure_future(read())
            await newest.ready()
            await asyncio.wait_for(reader, 5)
            assert [m["seq"] for m in page] == [21, 22, 23, 24, 25], "without after_seq: the newest page"
        finally:
            await a.close()

    run(scenario())


def test_a_server_killed_and_restarted_mid_conversation_loses_and_doubles_nothing(backend, start_server):
    server = start_server(backend)
    amy, bob, room = group(server)

    async def scenario():
        a, b = client(server.base, amy["token"]), client(server.base, bob["token"])
        try:
            await asyncio.gather(a.connect(), b.connect())
            a_stream, b_stream = collect(a.subscribe(room)), collect(b.subscribe(room))
            await asyncio.gather(a.subscribe(room).ready(), b.subscribe(room).ready())
            bodies, sends, acked = [], [], []

            def say(who, body):
                bodies.append(body)
                task = asyncio.ensure_future(who.send(room, body))
                task.add_done_callback(lambda t: acked.append(t))
                sends.append(task)

            for i in range(1, 41):
                say(a, f"amy {i}")
            await until(lambda: len(acked) >= 10, what="ten acks")
            await asyncio.to_thread(server.kill)
            for i in range(1, 11):
                say(b, f"bob while down {i}")
            for i in range(41, 51):
                say(a, f"amy {i}")
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.restart)
            stored = await asyncio.wait_for(asyncio.gather(*sends), 30)
            assert len({m["id"] for m in stored}) == 60
            await until(lambda: len(a_stream) >= 60 and len(b_stream) >= 60, what="both streams")
            await asyncio.sleep(0.2)
            assert_gapless(a_stream, bodies, "amy")
            assert_gapless(b_stream, bodies, "bob")
            assert_gapless(server.messages(room), bodies, "the store")
            amy_order = [m["body"] for m in a_stream if m["body"].startswith("amy ")]
            assert amy_order == [f"amy {i}" for i in range(1, 51)], "amy's sends keep their order"
        finally:
            await closing(a, b)

    run(scenario())


def test_changes_missed_while_cut_off_across_a_server_restart_come_once_each_at_their_latest_state(
    backend, start_server
):
    server = start_server(backend)
    amy, bob, room = group(server)

    async def scenario():
        proxy = await Proxy(server.port).start()
        a, b = client(server.base, amy["token"]), client(proxy.base, bob["token"])
        try:
            await asyncio.gather(a.connect(), b.connect())
            subscription = b.subscribe(room)
            seen = View(subscription)
            await subscription.ready()
            sent = [(await a.send(room, f"question {i}"))["id"] for i in range(1, 6)]
            m1, m2, m3, m4 = sent[:4]
            answer = await a.send(room, "see question 1, bob", reply_to=m1, mentions=[bob["id"]])
            assert answer["reply_to"]["id"] == m1 and answer["mentions"] == [bob["id"]], "send takes both"
            await until(lambda: len(seen.messages) == 6, what="six messages")
            await a.request("edit", {"room": room, "message": m1, "body": "question 1, fixed"})
            await b.request("react", {"room": room, "message": m2, "emoji": "👍"})
            await until(lambda: len(seen.updates) == 2, what="two live updates")
            assert subscription.last_rev >= 2, "last_rev follows live changes"

            proxy.refusing = True
            assert proxy.cut() == 1, "bob's connection cut"
            await until(lambda: b.state != "open", what="bob disconnected")
            await a.request("edit", {"room": room, "message": m3, "body": "question 3, first fix"})
            await a.request("delete", {"room": room, "message": m4})
            await a.request("react", {"room": room, "message": m1, "emoji": "🎉"})
            await a.request("edit", {"room": room, "message": m3, "body": "question 3, second fix"})
            m7 = (await a.send(room, "question 7"))["id"]
            await a.request("edit", {"room": room, "message": m7, "body": "question 7, fixed before bob saw it"})
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.restart)
            await until(lambda: a.state == "open", what="amy back")
            await a.request("react", {"room": room, "message": m2, "emoji": "👍"})
            m8 = (await a.send(room, "question 8"))["id"]
            await a.request("delete", {"room": room, "message": m8})
            assert len(seen.updates) == 2, "nothing reached bob meanwhile"

            proxy.refusing = False
            stored = await asyncio.to_thread(server.messages, room)
            last_rev = max(m["rev"] for m in stored)
            await until(lambda: subscription.last_rev == last_rev and len(seen.messages) == 8, what="bob caught up")
            await asyncio.sleep(0.2)
            assert seen.problems == []
            assert sorted(m["id"] for m in seen.updates[2:]) == sorted([m1, m2, m3, m4]), "each changed message once"
            assert seen.shown() == [shown(m) for m in stored], "bob's view is the store's"
            assert seen.messages[m3]["body"] == "question 3, second fix"
            assert seen.messages[m4]["deleted"] and seen.messages[m8]["deleted"]
            assert seen.messages[m7]["body"] == "question 7, fixed before bob saw it", "its latest state"
            thumbs = [r for r in seen.messages[m2]["reactions"] if r["emoji"] == "👍"]
            assert thumbs == [{"emoji": "👍", "count": 2, "me": True}], "bob's own reaction is his"
        finally:
            await closing(a, b)
            await proxy.close()

    run(scenario())


def test_a_client_stopped_and_started_again_with_its_last_seq_and_last_rev_gets_every_change_once(
    backend, start_server
):
    server = start_server(backend)
    amy, bob, room = group(server)

    async def scenario():
        a, b = client(server.base, amy["token"]), client(server.base, bob["token"])
        again = client(server.base, bob["token"])
        try:
            await asyncio.gather(a.connect(), b.connect())
            first = b.subscribe(room)
            before = View(first)
            # What the app keeps on disk, written on every event (a killed app has the last one).
            kept = {}

            def keep(_message):
                kept.update(after_seq=first.last_seq, after_rev=first.last_rev)

            first.on_message(keep)
            first.on_update(keep)
            await first.ready()
            sent = [(await a.send(room, f"note {i}"))["id"] for i in range(1, 6)]
            await a.request("react", {"room": room, "message": sent[0], "emoji": "👀"})
            await until(lambda: len(before.messages) == 5 and len(before.updates) == 1, what="bob has five")
            assert kept == {"after_seq": 5, "after_rev": 1}
            await b.close()

            await a.request("edit", {"room": room, "message": sent[1], "body": "note 2, edited"})
            await a.request("react", {"room": room, "message": sent[0], "emoji": "👀", "on": False})
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.restart)
            await until(lambda: a.state == "open", what="amy back")
            await a.request("delete", {"room": room, "message": sent[2]})
            await a.request("edit", {"room": room, "message": sent[1], "body": "note 2, edited twice"})
            sixth = (await a.send(room, "note 6"))["id"]

            await again.connect()
            second = again.subscribe(room, **kept)
            after = View(second, before.messages)
            handed_out = []
            second.on_message(lambda m: handed_out.append(m["id"]))
            await second.ready()
            await asyncio.sleep(0.2)
            assert before.problems == [] and after.problems == []
            assert handed_out == [sixth], "only the new message comes as a message"
            assert sorted(m["id"] for m in after.updates) == sorted(sent[:3]), "each changed message once"
            stored = await asyncio.to_thread(server.messages, room)
            assert after.shown() == [shown(m) for m in stored], "bob's view is the store's"
            assert second.last_rev == max(m["rev"] for m in stored) and second.last_seq == 6
        finally:
            await closing(a, b, again)

    run(scenario())


def test_reconnect_now_skips_the_back_off_once_the_network_is_back(backend, start_server):
    server = start_server(backend)
    amy, _bob, _room = group(server)

    async def scenario():
        a = client(server.base, amy["token"], backoff=Backoff(initial=60.0, maximum=60.0))
        delays = []
        a.on("close", lambda event: delays.append(event["delay"]))
        try:
            await a.connect()
            await asyncio.to_thread(server.kill)
            await until(lambda: a.state == "waiting" and delays, 10, "waiting to reconnect")
            assert delays[-1] >= 30, f"a long back-off ({delays[-1]} s)"
            await asyncio.to_thread(server.restart)
            a.reconnect_now()
            await until(lambda: a.state == "open", 10, "connected again well before the back-off ends")
            a.reconnect_now()
            assert a.state == "open", "while connected it does nothing"
        finally:
            await a.close()

    run(scenario())


def test_a_network_cut_at_the_tcp_level_again_and_again_loses_and_doubles_nothing(backend, start_server):
    server = start_server(backend)
    amy, bob, room = group(server)

    async def scenario():
        proxy = await Proxy(server.port).start()
        a, b = client(proxy.base, amy["token"]), client(proxy.base, bob["token"])
        reconnects = []
        a.on("open", lambda event: event["reconnect"] and reconnects.append(1))
        try:
            await asyncio.gather(a.connect(), b.connect())
            a_stream, b_stream = collect(a.subscribe(room)), collect(b.subscribe(room))
            await asyncio.gather(a.subscribe(room).ready(), b.subscribe(room).ready())
            bodies, sends = [], []
            for round_ in range(4):
                for i in range(15):
                    body = f"round {round_} {'bob' if i % 2 else 'amy'} {i}"
                    bodies.append(body)
                    sends.append(asyncio.ensure_future((b if i % 2 else a).send(room, body)))
                # Both connected again (a slow machine may still be reconnecting from the last cut).
                await until(lambda: a.state == "open" and b.state == "open", 10, "both connected")
                await asyncio.sleep(0.005 * round_)
                assert proxy.cut() == 2, "both connections cut"
                await asyncio.sleep(0.1)
            await asyncio.wait_for(asyncio.gather(*sends), 30)
            await until(lambda: len(a_stream) >= 60 and len(b_stream) >= 60, what="both streams")
            await asyncio.sleep(0.2)
            assert_gapless(a_stream, bodies, "amy")
            assert_gapless(b_stream, bodies, "bob")
            assert_gapless(server.messages(room), bodies, "the store")
            assert len(reconnects) >= 4
        finally:
            await closing(a, b)
            await proxy.close()

    run(scenario())


def test_a_connection_that_went_silent_is_found_dead_by_its_pings_and_made_again(backend, start_server):
    server = start_server(backend)
    amy, _bob, room = group(server)

    async def scenario():
        proxy = await Proxy(server.port).start()
        a = client(proxy.base, amy["token"], ping_interval=0.5, ping_timeout=1.0)
        closes = []
        a.on("close", closes.append)
        try:
            await a.connect()
            stream = collect(a.subscribe(room))
            await a.subscribe(room).ready()
            assert proxy.blackhole() == 1
            started = asyncio.get_running_loop().time()
            sent = asyncio.ensure_future(a.send(room, "into the silence"))
            server.admin("POST", f"/admin/rooms/{room}/messages", {"body": "said meanwhile"})
            assert (await sent)["body"] == "into the silence"
            await until(lambda: len(stream) == 2, 10, "the stream after the silence")
            assert sorted(m["body"] for m in stream) == ["into the silence", "said meanwhile"]
            assert len(closes) == 1, "one dead connection given up"
            assert asyncio.get_running_loop().time() - started < 8, "found within the ping time-out and the close time-out"
        finally:
            await a.close()
            await proxy.close()

    run(scenario())


def test_close_4002_resumes_4001_stops_and_a_revoked_token_is_refused(backend, start_server):
    server = start_server(backend)
    amy, _bob, room = group(server)

    async def scenario():
        proxy = await Proxy(server.port).start()
        a = client(proxy.base, amy["token"])
        closes, unauthorized, reopened = [], [], []
        a.on("close", lambda event: closes.append(event["code"]))
        a.on("unauthorized", lambda event: unauthorized.append(event["code"]))
        a.on("open", lambda event: event["reconnect"] and reopened.append(1))
        try:
            await a.connect()
            stream = collect(a.subscribe(room))
            await a.subscribe(room).ready()
            await a.send(room, "before")
            await until(lambda: len(stream) == 1)

            proxy.close_with(4002)
            await until(lambda: 4002 in closes, 5, "the 4002 close")
            server.admin("POST", f"/admin/rooms/{room}/messages", {"body": "while away"})
            await until(lambda: reopened, 5, "the reconnection")
            await a.send(room, "after")
            await until(lambda: len(stream) == 3, what="the resumed stream")
            assert [m["body"] for m in stream] == ["before", "while away", "after"]

            assert server.admin("DELETE", f"/admin/users/{amy['id']}/connections")[0] == 204
            await until(lambda: unauthorized == [4001], 5, "unauthorized")
            assert a.state == "stopped"
            accepted = proxy.accepted
            queued = asyncio.ensure_future(a.send(room, "queued while stopped"))
            await asyncio.sleep(0.5)
            assert proxy.accepted == accepted, "no reconnection after 4001"
            with pytest.raises(PalaverError) as stopped:
                await a.request("ping")
            assert stopped.value.code == "unauthorized"

            await a.connect()
            assert (await queued)["body"] == "queued while stopped"
            await until(lambda: len(stream) == 4, what="the stream after connecting again")

            assert server.admin("DELETE", f"/admin/users/{amy['id']}/tokens")[0] == 204
            await until(lambda: len(unauthorized) == 2, 5, "the second unauthorized")
            with pytest.raises(PalaverError) as refused:
                await a.connect()
            assert refused.value.code == "unauthorized"
            assert unauthorized == [4001, 4001, 401]
            with pytest.raises(PalaverError) as upload:
                await a.upload(png(), "x.png")
            assert (upload.value.code, upload.value.status) == ("unauthorized", 401)
        finally:
            await a.close()
            await proxy.close()

    run(scenario())


def test_rate_limited_is_waited_out(backend, start_server):
    server = start_server(backend, ["--rate", "10", "--burst", "5"])
    amy, _bob, room = group(server)

    async def scenario():
        a = client(server.base, amy["token"])
        try:
            await a.connect()
            stream = collect(a.subscribe(room))
            await a.subscribe(room).ready()
            bodies = [f"fast {i}" for i in range(30)]
            stored, pongs = await asyncio.gather(
                asyncio.gather(*(a.send(room, body) for body in bodies)),
                asyncio.gather(*(a.request("ping", timeout=30) for _ in range(8))),
            )
            assert len({m["seq"] for m in stored}) == 30 and len(pongs) == 8
            await until(lambda: len(stream) == 30, what="the stream")
            assert_gapless(stream, bodies, "the stream")
            assert_gapless(server.messages(room), bodies, "the store")
        finally:
            await a.close()

    run(scenario())


def test_uploads_a_picture_sent_received_downloaded_and_bad_uploads_refused(backend, start_server):
    server = start_server(backend)
    amy, bob, room = group(server)

    async def scenario():
        a, b = client(server.base, amy["token"]), client(server.base, bob["token"])
        try:
            await asyncio.gather(a.connect(), b.connect())
            b_stream = collect(b.subscribe(room))
            await b.subscribe(room).ready()
            picture = png(6, 4)
            file = await a.upload(picture, "triangle.png", content_type="image/png")
            assert file["id"].startswith("f_") and len(file["id"]) == 34
            assert (file["mime"], file["width"], file["height"], file["thumbnail"]) == ("image/png", 6, 4, True)
            message = await a.send(room, "", files=[file["id"]])
            assert message["files"] == [file]
            await until(lambda: len(b_stream) == 1, what="bob's message")
            assert b_stream[0]["files"] == [file]
            assert await b.download(file["id"]) == picture
            assert len(await b.download(file["id"], thumbnail=True)) > 0
            with urllib.request.urlopen(b.file_url(file["id"]), timeout=10) as response:
                assert response.status == 200
            for call, code, status in [
                (a.upload(b"", "empty.bin"), "bad_request", 400),
                (a.upload(picture, ""), "bad_request", 400),
                (b.download("f_" + "0" * 32), "not_found", 404),
            ]:
                with pytest.raises(PalaverError) as refused:
                    await call
                assert (refused.value.code, refused.value.status) == (code, status)
            with pytest.raises(PalaverError) as foreign:
                await a.send(room, "someone else's", files=["f_" + "0" * 32])
            assert foreign.value.code == "not_found"
        finally:
            await closing(a, b)

    run(scenario())


def test_a_client_killed_and_restarted_around_a_server_restart_loses_and_doubles_nothing(backend, start_server):
    server = start_server(backend)
    amy, _bob, room = group(server)
    with tempfile.TemporaryDirectory() as directory:
        store = Path(directory) / "outbox.json"
        child = subprocess.Popen(
            [sys.executable, str(HERE / "sender.py"), server.base, amy["token"], room, str(store)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE,
        )
        try:
            assert child.stdout.readline().strip() == "first"
            server.kill()
            child.stdin.write("more\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "second"
        finally:
            child.kill()
            child.wait()
        server.restart()

        async def scenario():
            again = client(server.base, amy["token"], outbox_store=FileStore(store))
            try:
                await again.connect()
                assert len(again.queued) >= 10, "the ten sends made while the server was down wait"
                await until(lambda: not again.queued, what="the outbox to empty")
                await again.saved()
            finally:
                await again.close()

        run(scenario())
        assert FileStore(store).load() == []
        assert_gapless(server.messages(room), [f"killed-client {i}" for i in range(1, 21)], "the store")


def test_the_sync_wrapper_chats_and_resumes_after_a_server_restart(backend, start_server):
    server = start_server(backend)
    amy, bob, room = group(server)
    with SyncClient(server.base, amy["token"]) as a, SyncClient(server.base, bob["token"]) as b:
        stream = b.subscribe(room)
        stream.ready()
        assert a.send(room, "one")["seq"] == 1
        assert stream.get()["body"] == "one"
        server.kill()
        server.restart()
        assert a.send(room, "two")["seq"] == 2
        assert stream.get()["body"] == "two"
        assert a.request("ping") == {}
        assert stream.last_seq == 2


def test_the_readme_bot_receives_a_photo_and_answers_with_a_card(backend, start_server):
    server = start_server(backend)
    amy = server.user("amy")

    # The bot of README.md.
    def photo_bot(call):
        message = call["message"]
        if message is None:
            return [text("Send me a photo of the problem.")]
        photos = [f for f in message["files"] if f["mime"].startswith("image/")]
        if not photos:
            return [text("That is not a photo: attach one.")]
        photo = photos[0]
        return [card(
            f"Got {photo['name']}",
            f"{photo['width']}×{photo['height']} pixels. A tutor will look at it.",
            buttons=[button("hint", "Give me a hint")],
        )]

    with WebhookServer(photo_bot) as webhook:
        status, body = server.admin("PUT", "/admin/bots/photobot", {
            "name": "Photo", "sort": "webhook", "fallback": "The photo bot is not answering.",
            "webhook": {"url": webhook.url, "timeout_ms": 5000},
        })
        assert status == 201, body

        with SyncClient(server.base, amy["token"]) as chat:
            room = chat.request("open_bot", {"bot": "photobot"})["room"]["id"]
            stream = chat.subscribe(room)
            assert stream.get()["template"] == {"kind": "text", "text": "Send me a photo of the problem."}
            file = chat.upload(png(8, 5), "problem.png")
            sent = chat.send(room, "", files=[file["id"]])
            assert stream.get()["id"] == sent["id"]
            answer = stream.get()
            assert answer["sender"]["id"] == "photobot"
            assert answer["template"]["kind"] == "card"
            assert answer["template"]["title"] == "Got problem.png"
            assert answer["template"]["text"].startswith("8×5 pixels")
            assert answer["template"]["buttons"] == [{"id": "hint", "label": "Give me a hint"}]
