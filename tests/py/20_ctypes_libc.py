"""ctypes: load libc.so.6, call getpid() (== os.getpid()), strlen, qsort
with a Python callback, getenv, errno from a failing call, and a struct."""
import ctypes
import ctypes.util
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
print("getpid matches", libc.getpid() == os.getpid())
print("gettid is the pid in the main thread", libc.gettid() == os.getpid())
libc.strlen.restype = ctypes.c_size_t
print("strlen", libc.strlen(b"sandboxed runtime"))
arr = (ctypes.c_int * 8)(5, 3, 9, 1, 7, 2, 8, 0)
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
libc.qsort(arr, len(arr), ctypes.sizeof(ctypes.c_int), CMP(lambda a, b: a[0] - b[0]))
print("qsort", list(arr))
os.environ["MOAT_CTYPES"] = "yes"
libc.getenv.restype = ctypes.c_char_p
print("getenv", libc.getenv(b"MOAT_CTYPES"))
r = libc.open(b"/nonexistent/file", 0)
print("open fails", r, "errno", ctypes.get_errno() == 2)


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


ts = Timespec()
print("clock_gettime", libc.clock_gettime(1, ctypes.byref(ts)), ts.tv_sec >= 0 and 0 <= ts.tv_nsec < 10**9)
buf = ctypes.create_string_buffer(32)
libc.snprintf(buf, 32, b"%d-%s", 42, b"moat")
print("snprintf", buf.value)
print("find_library c", ctypes.util.find_library("c") is not None)
