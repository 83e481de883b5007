"""subprocess with pipes: /bin/cat echoing 1 MB through communicate(),
a Popen read line by line, check_output, a failing command's return code,
and a pipeline of two processes."""
import hashlib
import subprocess

data = bytes((i * 7) % 251 for i in range(1 << 20))
p = subprocess.Popen(["/bin/cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, err = p.communicate(data, timeout=20)
print("cat echoed", len(out), "same", out == data, "stderr", err, "rc", p.returncode)
print("sha256", hashlib.sha256(out).hexdigest()[:16])

p = subprocess.Popen(["/bin/cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
lines = []
for i in range(5):
    p.stdin.write("line %d\n" % i)
    p.stdin.flush()
    lines.append(p.stdout.readline().strip())
p.stdin.close()
print("line by line", lines, "rest", repr(p.stdout.read()), "rc", p.wait())

print("check_output", subprocess.check_output(["/bin/echo", "hi", "there"]))
r = subprocess.run(["/bin/sh", "-c", "echo to-err >&2; exit 3"], capture_output=True)
print("run rc", r.returncode, "stdout", r.stdout, "stderr", r.stderr)
try:
    subprocess.run(["/bin/false"], check=True)
except subprocess.CalledProcessError as e:
    print("CalledProcessError rc", e.returncode)
try:
    subprocess.run(["/nonexistent/program"])
except FileNotFoundError as e:
    print("FileNotFoundError errno", e.errno)

p1 = subprocess.Popen(["/bin/echo", "b\na\nc"], stdout=subprocess.PIPE)
p2 = subprocess.Popen(["/usr/bin/sort"], stdin=p1.stdout, stdout=subprocess.PIPE)
p1.stdout.close()
print("pipeline", p2.communicate()[0].split(), p1.wait(), p2.returncode)
