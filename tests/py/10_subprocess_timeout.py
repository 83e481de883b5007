"""subprocess.run with a timeout that expires on `sleep 5`: TimeoutExpired
well before 5 s, the child killed and reaped; Popen.wait timeouts; a
process killed by a signal has a negative returncode."""
import signal
import subprocess
import time

t0 = time.monotonic()
try:
    subprocess.run(["/bin/sleep", "5"], timeout=0.3)
except subprocess.TimeoutExpired as e:
    took = time.monotonic() - t0
    print("TimeoutExpired", e.cmd, "promptly", 0.25 <= took < 3)

p = subprocess.Popen(["/bin/sleep", "5"])
try:
    p.wait(timeout=0.1)
except subprocess.TimeoutExpired:
    print("wait timed out, still running", p.poll() is None)
p.send_signal(signal.SIGTERM)
print("killed by SIGTERM: returncode", p.wait(timeout=5))
p = subprocess.Popen(["/bin/sleep", "5"])
p.kill()
print("killed by SIGKILL: returncode", p.wait(timeout=5))
try:
    subprocess.run(["/bin/sh", "-c", "echo partial; exec sleep 5"], timeout=1, capture_output=True)
except subprocess.TimeoutExpired as e:
    print("output before the timeout", e.stdout)
print("total under 4 s", time.monotonic() - t0 < 4)
