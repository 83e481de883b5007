"""queue.Queue between 3 producers and 3 consumers, with join/task_done,
sentinels, and the Empty/Full timeouts."""
import queue
import threading

q = queue.Queue(maxsize=10)
results = []
lock = threading.Lock()


def producer(base):
    for i in range(1000):
        q.put(base + i)


def consumer():
    local = []
    while True:
        item = q.get()
        if item is None:
            q.task_done()
            break
        local.append(item)
        q.task_done()
    with lock:
        results.extend(local)


ps = [threading.Thread(target=producer, args=(k * 10000,)) for k in range(3)]
cs = [threading.Thread(target=consumer) for _ in range(3)]
for t in ps + cs:
    t.start()
for t in ps:
    t.join()
q.join()
for _ in cs:
    q.put(None)
for t in cs:
    t.join()
print("items", len(results), "sum", sum(results), "unique", len(set(results)))
try:
    q.get(timeout=0.05)
except queue.Empty:
    print("get timeout: Empty")
small = queue.Queue(1)
small.put(1)
try:
    small.put(2, timeout=0.05)
except queue.Full:
    print("put timeout: Full")
lq = queue.LifoQueue()
pq = queue.PriorityQueue()
for x in [3, 1, 2]:
    lq.put(x)
    pq.put(x)
print("lifo", [lq.get() for _ in range(3)], "priority", [pq.get() for _ in range(3)])
sq = queue.SimpleQueue()
threading.Thread(target=lambda: [sq.put(i) for i in range(100)]).start()
print("simple queue", sum(sq.get(timeout=2) for _ in range(100)))
