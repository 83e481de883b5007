"""concurrent.futures.ThreadPoolExecutor: map keeps order, submit and
as_completed, exceptions carried by futures, shutdown."""
import concurrent.futures as cf
import hashlib
import threading


def work(n):
    h = hashlib.sha256()
    for i in range(n * 100):
        h.update(i.to_bytes(4, "little"))
    return n, h.hexdigest()[:12]


names = set()


def who(_):
    names.add(threading.current_thread().name.split("_")[0])
    return threading.get_ident() != main_ident


main_ident = threading.get_ident()
with cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="pool") as ex:
    for n, digest in ex.map(work, range(1, 9)):
        print(n, digest)
    futs = [ex.submit(pow, 2, k) for k in range(20)]
    print("as_completed sum", sum(f.result() for f in cf.as_completed(futs)))
    bad = ex.submit(lambda: 1 / 0)
    print("exception", type(bad.exception(timeout=5)).__name__)
    print("ran in other threads", all(ex.map(who, range(16))), sorted(names))
print("after shutdown, submit raises", end=" ")
try:
    ex.submit(int)
except RuntimeError:
    print("RuntimeError")
done, pending = cf.wait([cf.ThreadPoolExecutor(1).submit(sum, [1, 2, 3])], timeout=5)
print("wait", len(done), len(pending), [f.result() for f in done])
