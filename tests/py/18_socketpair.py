"""socket.socketpair: stream send/recv of 2 MB from a thread, shutdown
and EOF, a datagram pair keeping message boundaries, passing a descriptor
with SCM_RIGHTS, MSG_PEEK and timeouts."""
import array
import hashlib
import os
import socket
import threading

a, b = socket.socketpair()
data = bytes(range(256)) * 8192
t = threading.Thread(target=lambda: (a.sendall(data), a.shutdown(socket.SHUT_WR)))
t.start()
chunks = []
while True:
    c = b.recv(65536)
    if not c:
        break
    chunks.append(c)
t.join()
got = b"".join(chunks)
print("stream", len(got), hashlib.md5(got).hexdigest(), "EOF after shutdown")
b.sendall(b"back")
print("the other direction still works", a.recv(10))
b.settimeout(0.05)
try:
    b.recv(10)
except socket.timeout:
    print("recv timeout")
a.close()
b.close()

x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
for n in [1, 10, 100, 1000]:
    x.send(b"d" * n)
print("datagram sizes", [len(y.recv(4096)) for _ in range(4)])
x.send(b"peekaboo")
print("peek", y.recv(4, socket.MSG_PEEK), "then", y.recv(100))

r, w = os.pipe()
os.write(w, b"through a passed fd")
fds = array.array("i", [r])
x.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
msg, anc, flags, _ = y.recvmsg(10, socket.CMSG_LEN(4))
passed = array.array("i", anc[0][2])[0]
print("SCM_RIGHTS", msg, len(anc), "a new descriptor", passed != r, os.read(passed, 100))
os.close(passed)
print("family", x.family.name, "type", x.type.name)
