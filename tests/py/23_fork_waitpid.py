"""os.fork and os.waitpid: exit statuses, signals, WNOHANG, waitstatus_to_
exitcode, wait for any child, a stopped and continued child (WUNTRACED,
WCONTINUED), os.wait4 rusage, and fork from a thread."""
import os
import signal
import threading
import time


def child(code):
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return pid


pid = child(3)
_, st = os.waitpid(pid, 0)
print("exit 3:", os.WIFEXITED(st), os.WEXITSTATUS(st), os.waitstatus_to_exitcode(st))

pid = os.fork()
if pid == 0:
    time.sleep(10)
    os._exit(0)
print("WNOHANG while running", os.waitpid(pid, os.WNOHANG))
os.kill(pid, signal.SIGTERM)
_, st = os.waitpid(pid, 0)
print("SIGTERM:", os.WIFSIGNALED(st), signal.Signals(os.WTERMSIG(st)).name, os.waitstatus_to_exitcode(st))

pids = sorted(child(c) for c in (1, 2, 4))
got = []
for _ in range(3):
    p, st = os.wait()
    got.append((pids.index(p), os.WEXITSTATUS(st)))
print("wait for any", sorted(got))

pid = os.fork()
if pid == 0:
    time.sleep(10)
    os._exit(0)
os.kill(pid, signal.SIGSTOP)
_, st = os.waitpid(pid, os.WUNTRACED)
print("stopped:", os.WIFSTOPPED(st), signal.Signals(os.WSTOPSIG(st)).name)
os.kill(pid, signal.SIGCONT)
_, st = os.waitpid(pid, os.WCONTINUED)
print("continued:", os.WIFCONTINUED(st))
os.kill(pid, signal.SIGKILL)
_, st = os.waitpid(pid, 0)
print("then SIGKILL:", signal.Signals(os.WTERMSIG(st)).name)

pid = os.fork()
if pid == 0:
    x = 0
    for i in range(200000):
        x += i
    os._exit(x % 256)
p, st, ru = os.wait4(pid, 0)
print("wait4:", os.WEXITSTATUS(st), "rusage has times", ru.ru_utime >= 0 and ru.ru_stime >= 0)

result = []


def fork_in_thread():
    pid = os.fork()
    if pid == 0:
        os._exit(len(threading.enumerate()))
    result.append(os.WEXITSTATUS(os.waitpid(pid, 0)[1]))


t = threading.Thread(target=fork_in_thread)
t.start()
t.join()
print("fork from a thread: the child saw threads", result)
try:
    os.waitpid(-1, 0)
except ChildProcessError as e:
    print("no children left: ChildProcessError errno", e.errno)
