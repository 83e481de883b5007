"""multiprocessing with the spawn start method (a fresh interpreter per
worker, the module re-imported): Pool.map, imap_unordered, apply_async and
starmap."""
import multiprocessing as mp
import os


def square(x):
    return x * x


def tag(a, b):
    return "%s-%s" % (a, b)


def is_child(_):
    return os.getpid()


if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    with ctx.Pool(3) as pool:
        print("map", pool.map(square, range(12)))
        print("imap_unordered sorted", sorted(pool.imap_unordered(square, range(8))))
        print("apply_async", pool.apply_async(square, (9,)).get(timeout=20))
        print("starmap", pool.starmap(tag, [(1, "a"), (2, "b")]))
        pids = set(pool.map(is_child, range(30)))
        print("workers are other processes", os.getpid() not in pids, "at most 3", len(pids) <= 3)
    print("start method", ctx.get_start_method())
