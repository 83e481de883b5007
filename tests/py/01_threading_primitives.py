"""threading primitives: Lock, RLock, Condition, Event, Semaphore, Barrier."""
import threading

N = 8

# Lock: counter under contention.
lock = threading.Lock()
counter = 0


def bump():
    global counter
    for _ in range(20000):
        with lock:
            counter += 1


ts = [threading.Thread(target=bump) for _ in range(N)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("lock counter", counter)
print("lock acquire non-blocking while free", lock.acquire(blocking=False))
print("again while held", lock.acquire(blocking=False))
print("with timeout while held", lock.acquire(timeout=0.05))
lock.release()

# RLock: re-entered by its owner, not by others.
rl = threading.RLock()
with rl:
    with rl:
        other = []
        t = threading.Thread(target=lambda: other.append(rl.acquire(timeout=0.05)))
        t.start()
        t.join()
        print("rlock nested ok, other thread got it", other[0])

# Condition: a bounded buffer.
cond = threading.Condition()
buf, out = [], []


def produce():
    for i in range(1000):
        with cond:
            cond.wait_for(lambda: len(buf) < 5)
            buf.append(i)
            cond.notify_all()


def consume():
    for _ in range(500):
        with cond:
            cond.wait_for(lambda: buf)
            out.append(buf.pop(0))
            cond.notify_all()


ts = [threading.Thread(target=produce)] + [threading.Thread(target=consume) for _ in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("condition items", len(out), "sum", sum(out), "sorted ok", sorted(out) == list(range(1000)))
with cond:
    print("condition wait timeout returns", cond.wait(timeout=0.05))

# Event.
ev = threading.Event()
seen = []
ws = [threading.Thread(target=lambda i=i: seen.append((i, ev.wait(2)))) for i in range(4)]
for t in ws:
    t.start()
ev.set()
for t in ws:
    t.join()
print("event woke", sorted(seen))
ev.clear()
print("event wait timeout", ev.wait(0.05))

# Semaphore: at most 3 inside at once.
sem = threading.BoundedSemaphore(3)
inside = 0
peak = 0
gate = threading.Lock()


def limited():
    global inside, peak
    for _ in range(50):
        with sem:
            with gate:
                inside += 1
                peak = max(peak, inside)
            with gate:
                inside -= 1


ts = [threading.Thread(target=limited) for _ in range(6)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("semaphore peak <= 3", peak <= 3, "inside at the end", inside)
try:
    sem.release()
except ValueError:
    print("bounded semaphore over-release: ValueError")

# Barrier: every round complete before the next.
bar = threading.Barrier(4)
rounds = [0] * 5
bad = []


def runner():
    for r in range(5):
        with gate:
            rounds[r] += 1
        bar.wait()
        if rounds[r] != 4:
            bad.append(r)


ts = [threading.Thread(target=runner) for _ in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("barrier rounds", rounds, "early leavers", len(bad))
b2 = threading.Barrier(2, timeout=0.05)
try:
    b2.wait()
except threading.BrokenBarrierError:
    print("barrier timeout: BrokenBarrierError, broken", b2.broken)
print("active threads at the end", threading.active_count())
