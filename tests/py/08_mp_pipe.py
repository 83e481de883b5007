"""multiprocessing.Pipe: duplex and one-way pipes between processes,
objects and bytes, poll with a timeout, EOF when the other end closes."""
import multiprocessing as mp


def echo(conn, other):
    other.close()  # the parent's end, inherited by fork: else no EOF
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            break
        conn.send(("echo", msg))
    conn.close()


def writer(w):
    for i in range(100):
        w.send_bytes(bytes([i]) * (i + 1))
    w.close()


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe()
    p = ctx.Process(target=echo, args=(b, a))
    p.start()
    b.close()
    for msg in [1, "two", [3, 4], {"five": 5}, None]:
        a.send(msg)
        print(a.recv())
    print("poll with nothing pending", a.poll(0.05))
    a.close()
    p.join()
    print("echo exit", p.exitcode)
    r, w = ctx.Pipe(duplex=False)
    p = ctx.Process(target=writer, args=(w,))
    p.start()
    w.close()
    total = 0
    n = 0
    try:
        while True:
            total += sum(r.recv_bytes())
            n += 1
    except EOFError:
        pass
    p.join()
    print("messages", n, "byte sum", total, "exit", p.exitcode)
