"""concurrent.futures.ProcessPoolExecutor (fork start method, Linux's
default in 3.11): map across 4 worker processes, different pids, results
and exceptions pickled back."""
import concurrent.futures as cf
import os
import zlib


def crc(n):
    return n, zlib.crc32(bytes(range(256)) * n), os.getpid()


def fail(x):
    raise ValueError("bad %d" % x)


if __name__ == "__main__":
    me = os.getpid()
    with cf.ProcessPoolExecutor(max_workers=4) as ex:
        pids = set()
        for n, c, pid in ex.map(crc, range(1, 13), chunksize=2):
            print(n, c)
            pids.add(pid)
        print("ran in children", me not in pids)
        f = ex.submit(fail, 7)
        e = f.exception(timeout=10)
        print("exception", type(e).__name__, e)
        print("squares", list(ex.map(pow, range(10), [2] * 10)))
