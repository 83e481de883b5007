"""selectors.DefaultSelector (epoll) driving both ends of a socketpair:
an echo loop of 200 messages with registration changes, unregister, and a
timeout with nothing ready."""
import selectors
import socket

sel = selectors.DefaultSelector()
print("selector", type(sel).__name__)
a, b = socket.socketpair()
a.setblocking(False)
b.setblocking(False)
sel.register(b, selectors.EVENT_READ, data="server")
sel.register(a, selectors.EVENT_WRITE, data="client")
sent = received = echoed = 0
inbox = b""
while received < 200:
    for key, mask in sel.select(timeout=5):
        if key.data == "client" and mask & selectors.EVENT_WRITE:
            if sent < 200:
                key.fileobj.send(b"msg%03d;" % sent)
                sent += 1
            else:
                sel.modify(a, selectors.EVENT_READ, data="client")
        elif key.data == "client":
            inbox += key.fileobj.recv(65536)
            received = inbox.count(b";")
        else:
            data = key.fileobj.recv(65536)
            echoed += data.count(b";")
            key.fileobj.sendall(data.upper())
msgs = inbox.split(b";")[:-1]
print("sent", sent, "echoed", echoed, "received", len(msgs), "first", msgs[0], "last", msgs[-1])
print("in order", msgs == [b"MSG%03d" % i for i in range(200)])
sel.unregister(a)
print("registered", sorted(k.data for k in sel.get_map().values()))
print("nothing ready", sel.select(timeout=0.05))
a.close()
print("peer closed: readable", [k.data for k, m in sel.select(timeout=1)], "recv", b.recv(10))
sel.close()
b.close()
