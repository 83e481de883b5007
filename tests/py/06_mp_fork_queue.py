"""multiprocessing with the fork start method: 4 processes feeding a
Queue, a Value and a Lock shared, exit codes, and a terminated process."""
import multiprocessing as mp
import signal
import sys
import time


def worker(q, k, total, lock):
    for i in range(250):
        q.put(k * 1000 + i)
    with lock:
        total.value += k
    sys.exit(10 + k)  # (not os._exit: the queue's feeder thread must flush)


def sleeper():
    time.sleep(30)


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    total = ctx.Value("i", 0)
    lock = ctx.Lock()
    ps = [ctx.Process(target=worker, args=(q, k, total, lock)) for k in range(4)]
    for p in ps:
        p.start()
    got = [q.get(timeout=10) for _ in range(1000)]
    for p in ps:
        p.join()
    print("items", len(got), "sum", sum(got), "exit codes", [p.exitcode for p in ps])
    print("shared value", total.value)
    s = ctx.Process(target=sleeper)
    s.start()
    s.terminate()
    s.join()
    print("terminated exitcode", s.exitcode, s.exitcode == -signal.SIGTERM)
    print("q empty", q.empty())
