"""asyncio: create_subprocess_exec('/bin/echo') and /bin/cat with pipes,
a Unix socket server (start_unix_server in a temporary directory) with
five concurrent clients, gather, wait_for timeouts and asyncio.sleep."""
import asyncio
import os
import shutil
import tempfile


async def handle(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line.upper())
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def client(path, k):
    reader, writer = await asyncio.open_unix_connection(path)
    replies = []
    for i in range(3):
        writer.write(b"client %d line %d\n" % (k, i))
        await writer.drain()
        replies.append((await reader.readline()).strip().decode())
    writer.close()
    await writer.wait_closed()
    return replies


async def main():
    p = await asyncio.create_subprocess_exec("/bin/echo", "hello", "from", "echo", stdout=asyncio.subprocess.PIPE)
    out, _ = await p.communicate()
    print("echo:", out, "rc", p.returncode)
    p = await asyncio.create_subprocess_exec("/bin/cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await p.communicate(b"x" * 200000)
    print("cat:", len(out), "rc", p.returncode)
    p = await asyncio.create_subprocess_exec("/bin/sh", "-c", "exit 4")
    print("sh exit", await p.wait())

    d = tempfile.mkdtemp()
    try:
        path = os.path.join(d, "sock")
        server = await asyncio.start_unix_server(handle, path)
        results = await asyncio.gather(*(client(path, k) for k in range(5)))
        for r in results:
            print(r)
        server.close()
        await server.wait_closed()
    finally:
        shutil.rmtree(d)

    try:
        await asyncio.wait_for(asyncio.sleep(5), 0.05)
    except asyncio.TimeoutError:
        print("wait_for timed out")
    order = []

    async def sleeper(t, name):
        await asyncio.sleep(t)
        order.append(name)

    await asyncio.gather(sleeper(0.06, "c"), sleeper(0.02, "a"), sleeper(0.04, "b"))
    print("sleep order", order)


asyncio.run(main())
