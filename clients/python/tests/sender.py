"""A client process the test kills: sends 10 messages, prints "first"; on "more" on stdin sends 10
more (the server is down by then: they wait in the outbox store), prints "second".
Usage: python sender.py BASE TOKEN ROOM STORE_FILE"""

import asyncio
import sys

from support import FileStore, client


async def main(base, token, room, store_file):
    palaver = client(base, token, outbox_store=FileStore(store_file))
    await palaver.connect()
    for i in range(1, 11):
        asyncio.ensure_future(palaver.send(room, f"killed-client {i}"))
    await asyncio.sleep(0)
    await palaver.saved()
    print("first", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        if line.strip() == "more":
            for i in range(11, 21):
                asyncio.ensure_future(palaver.send(room, f"killed-client {i}"))
            await asyncio.sleep(0)
            await palaver.saved()
            print("second", flush=True)


asyncio.run(main(*sys.argv[1:5]))
