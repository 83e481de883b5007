"""select.select on pipes: a timeout with nothing ready, readable after a
write (also from a thread), writable until the pipe is full, EOF readable;
and select.poll/epoll on the same pipe."""
import os
import select
import threading
import time

r, w = os.pipe()
t0 = time.monotonic()
print("nothing ready", select.select([r], [], [], 0.05), "waited", time.monotonic() - t0 >= 0.045)
os.write(w, b"x")
rd, wr, _ = select.select([r], [w], [], 1)
print("after a write", rd == [r], wr == [w])
os.read(r, 1)


def later():
    time.sleep(0.05)
    os.write(w, b"from a thread")


threading.Thread(target=later).start()
rd, _, _ = select.select([r], [], [], 5)
print("woken by a thread's write", rd == [r], os.read(r, 100))

os.set_blocking(w, False)
n = 0
try:
    while True:
        n += os.write(w, b"z" * 4096)
except BlockingIOError:
    pass
print("filled", n, "writable now", select.select([], [w], [], 0)[1])
os.read(r, 65536)
print("writable after draining", select.select([], [w], [], 0)[1] == [w])

p = select.poll()
p.register(r, select.POLLIN)
print("poll empty", p.poll(20))
os.write(w, b"q")
print("poll ready", [(fd == r, ev) for fd, ev in p.poll(1000)])
os.read(r, 1)
ep = select.epoll()
ep.register(r, select.EPOLLIN)
os.close(w)
print("epoll after the writer closed", [(fd == r, ev & (select.EPOLLIN | select.EPOLLHUP)) for fd, ev in ep.poll(1)])
print("EOF readable", select.select([r], [], [], 1)[0] == [r], os.read(r, 10))
ep.close()
