"""faulthandler and threading.excepthook: an exception in a thread goes to
a custom excepthook (with the thread's name), the default hook prints to
stderr; faulthandler.dump_traceback of all threads; a child interpreter
with faulthandler enabled dying of SIGSEGV reports it on stderr."""
import faulthandler
import os
import subprocess
import sys
import tempfile
import threading

seen = []


def hook(args):
    seen.append((args.exc_type.__name__, str(args.exc_value), args.thread.name))


threading.excepthook = hook
t = threading.Thread(target=lambda: 1 / 0, name="crasher")
t.start()
t.join()
t = threading.Thread(target=lambda: (_ for _ in ()).throw(KeyError("k")), name="other")
t.start()
t.join()
print("excepthook saw", seen)
threading.excepthook = threading.__excepthook__

print("faulthandler enabled", faulthandler.is_enabled())
faulthandler.enable()
print("after enable", faulthandler.is_enabled())
ev = threading.Event()
bg = threading.Thread(target=ev.wait, name="waiter")
bg.start()
with tempfile.TemporaryFile("w+") as f:
    faulthandler.dump_traceback(file=f, all_threads=True)
    f.seek(0)
    text = f.read()
ev.set()
bg.join()
print("dump has two threads", text.count("hread 0x") == 2, "current marked", "Current thread 0x" in text)
print("dump names this function's module", "22_faulthandler_excepthook.py" in text)

nocore = "import resource; resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
code = nocore + "import faulthandler, ctypes; faulthandler.enable(); ctypes.string_at(0)"
r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
print("child returncode", r.returncode)
print("child stderr reports it", "Fatal Python error: Segmentation fault" in r.stderr)
r = subprocess.run([sys.executable, "-X", "faulthandler", "-c", nocore + "import os, signal; os.kill(os.getpid(), signal.SIGABRT)"],
                   capture_output=True, text=True, timeout=20)
print("SIGABRT child", r.returncode, "reported", "Fatal Python error: Aborted" in r.stderr)
r = subprocess.run([sys.executable, "-c", "import threading; threading.Thread(target=lambda: 1/0).start()"],
                   capture_output=True, text=True, timeout=20)
print("default hook: rc", r.returncode, "stderr mentions ZeroDivisionError", "ZeroDivisionError" in r.stderr)
