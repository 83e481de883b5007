"""threading.Timer: one fires after its delay, a cancelled one never does."""
import threading
import time

fired = []
done = threading.Event()
t0 = time.monotonic()
t = threading.Timer(0.1, lambda: (fired.append(time.monotonic() - t0), done.set()))
c = threading.Timer(0.05, lambda: fired.append("cancelled one ran"))
t.start()
c.start()
c.cancel()
print("timer fired", done.wait(3))
t.join()
c.join()
print("fired once", len(fired) == 1, "after its delay", fired[0] >= 0.095)
print("timer thread alive after join", t.is_alive())
args = []
t2 = threading.Timer(0.01, lambda *a, **k: args.append((a, k)), args=(1, 2), kwargs={"x": 3})
t2.start()
t2.join()
print("args", args)
