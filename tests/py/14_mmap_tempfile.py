"""mmap of a temporary file: writes through a shared mapping are read back
through the file, file writes appear in the mapping, resize, flush, find,
a private (copy-on-write) mapping, and an anonymous mapping shared with a
forked child."""
import mmap
import os
import shutil
import tempfile

d = tempfile.mkdtemp()
try:
    path = os.path.join(d, "data")
    with open(path, "wb") as f:
        f.write(b"\0" * 8192)
    with open(path, "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        print("length", len(m))
        m[0:5] = b"hello"
        m[4096:4101] = b"world"
        m.flush()
        with open(path, "rb") as g:
            content = g.read()
        print("read via the file", content[:5], content[4096:4101])
        f.seek(100)
        f.write(b"through the file")
        f.flush()
        print("seen in the mapping", m[100:116])
        print("find", m.find(b"world"), "rfind", m.rfind(b"o"))
        m.resize(12288)
        m[12000:12003] = b"end"
        m.close()
    print("file size after resize", os.path.getsize(path))
    with open(path, "r+b") as f:
        p = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE)
        p[0:5] = b"HELLO"
        p.close()
    with open(path, "rb") as f:
        print("private write not in the file", f.read(5), "tail", f.read()[-292:-289])
    shared = mmap.mmap(-1, 4096)
    pid = os.fork()
    if pid == 0:
        shared[0:11] = b"from child\n"
        os._exit(0)
    os.waitpid(pid, 0)
    print("anonymous shared mapping", shared[0:11])
    shared.close()
finally:
    shutil.rmtree(d)
print("temp dir removed", not os.path.exists(d))
