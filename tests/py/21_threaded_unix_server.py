"""socketserver.ThreadingUnixStreamServer in a temporary directory, served
from a thread, with 4 client threads each making 5 request/response
exchanges; then shutdown and server_close."""
import os
import shutil
import socket
import socketserver
import tempfile
import threading

handled = []
lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        n = 0
        for line in self.rfile:
            self.wfile.write(b"%d:%s" % (len(line), line[::-1].strip() + b"\n"))
            n += 1
        with lock:
            handled.append((threading.current_thread() is not threading.main_thread(), n))


d = tempfile.mkdtemp()
try:
    path = os.path.join(d, "server.sock")
    server = socketserver.ThreadingUnixStreamServer(path, Handler)
    st = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    st.start()
    results = {}

    def client(k):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(path)
            f = s.makefile("rwb")
            replies = []
            for i in range(5):
                f.write(b"client%d-msg%d\n" % (k, i))
                f.flush()
                replies.append(f.readline().strip().decode())
            f.close()
        results[k] = replies

    cs = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for c in cs:
        c.start()
    for c in cs:
        c.join()
    server.shutdown()
    server.server_close()
    st.join()
    for k in sorted(results):
        print(k, results[k])
    # Handler threads finish after their client closes: wait for all 4.
    for t in list(threading.enumerate()):
        if t is not threading.main_thread():
            t.join(5)
    print("handled", sorted(handled))
finally:
    shutil.rmtree(d)
