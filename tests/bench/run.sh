#!/usr/bin/env bash
# Builds in release mode, runs every benchmark, and rewrites the tables of
# docs/performance.md between their markers. Not a test: nothing here passes
# or fails on a timing. Run as root on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --workspace --quiet
export MOAT_BIN="$PWD/target/release/moat"

replace_table() { # NAME FILE-WITH-ROWS
    /usr/bin/python3 - "$1" "$2" <<'PY'
import re, sys
name, rows = sys.argv[1], open(sys.argv[2]).read()
doc = open("docs/performance.md").read()
start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
if not pattern.search(doc):
    sys.exit(f"docs/performance.md has no {start} marker")
doc = pattern.sub(lambda _: start + "\n" + rows + end, doc)
open("docs/performance.md", "w").write(doc)
PY
}

rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
command -v gcc >/dev/null || apt-get install -y -qq gcc >/dev/null
{
    echo "| operation | through the Gofer (µs) | direct syscalls (µs) | ratio | unit |"
    echo "|---|---:|---:|---:|---|"
    target/release/moat-bench-gofer same
    target/release/moat-bench-gofer any
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) CPUs, kernel $(uname -r), \`tests/bench/run.sh\`."
} > "$rows"
replace_table gofer "$rows"
cat "$rows"

# The Sentry: the same static program natively, under moat do, and under
# runsc --platform=ptrace (when installed), plus the raw ptrace round trip
# that moat's getppid is held to, all in this one run.
work=$(mktemp -d /var/tmp/moat-bench.XXXXXX)
trap 'rm -f "$rows"; rm -rf "$work"' EXIT
gcc -static -O2 -w -o "$work/syscalls" tests/bench/c/syscalls.c
gcc -O2 -w -o "$work/ptrace_roundtrip" tests/bench/c/ptrace_roundtrip.c
"$work/syscalls" 1 > "$work/native.txt"
target/release/moat do -- "$work/syscalls" 1 > "$work/moat.txt"
"$work/ptrace_roundtrip" > "$work/ptrace.txt"
if command -v runsc >/dev/null; then
    runsc --platform=ptrace --network=none --root "$work/runsc-root" do "$work/syscalls" 1 > "$work/runsc.txt" 2>/dev/null || true
fi
loop='for i in $(seq 1000); do :; done'
if command -v hyperfine >/dev/null; then
    cmds=("/bin/busybox sh -c '$loop'" "target/release/moat do -- /bin/busybox sh -c '$loop'")
    if command -v runsc >/dev/null; then
        cmds+=("runsc --platform=ptrace --network=none --root $work/runsc-root do /bin/busybox sh -c '$loop'")
    fi
    hyperfine -N --warmup 1 --runs 10 --export-json "$work/loop.json" "${cmds[@]}" >/dev/null
fi
/usr/bin/python3 - "$work" > "$rows" <<'PY'
import json, os, sys
w = sys.argv[1]
def load(name):
    p = os.path.join(w, name)
    if not os.path.exists(p):
        return {}
    return {k: float(v) for k, v in (l.split() for l in open(p) if l.strip())}
native, moat, runsc, raw = load("native.txt"), load("moat.txt"), load("runsc.txt"), load("ptrace.txt")
us = lambda v: (f"{v / 1000:.3f}" if v < 1000 else f"{v / 1000:.1f}") if v else "n/a"
print("| operation | native (µs) | moat (µs) | runsc-ptrace (µs) | moat / native | runsc / moat |")
print("|---|---:|---:|---:|---:|---:|")
names = {"getppid": "getppid", "clock_gettime": "clock_gettime (the vDSO: no trap)", "open_read_close": "open + read + close of a small file", "stat": "stat",
         "fork_exit_wait": "fork + exit + wait", "pipe_1gib_per_mib": "1 GiB through a pipe (per MiB)"}
for k, label in names.items():
    n, m, r = native.get(k), moat.get(k), runsc.get(k)
    print(f"| {label} | {us(n)} | {us(m)} | {us(r)} | {m / n:.1f}× | {r / m:.1f}× |" if n and m and r else
          f"| {label} | {us(n)} | {us(m)} | {us(r)} | | |")
loop = os.path.join(w, "loop.json")
if os.path.exists(loop):
    res = json.load(open(loop))["results"]
    ms = [r["mean"] * 1000 for r in res]
    cells = [f"{v:.0f}" for v in ms] + ["n/a"] * (3 - len(ms))
    ratio = f"{ms[1] / ms[0]:.1f}×" if len(ms) > 1 else ""
    ratio2 = f"{ms[2] / ms[1]:.1f}×" if len(ms) > 2 else ""
    print(f"| `busybox sh -c 'for i in $(seq 1000); do :; done'` (ms, hyperfine) | {cells[0]} | {cells[1]} | {cells[2]} | {ratio} | {ratio2} |")
if raw.get("ptrace_roundtrip") and moat.get("getppid"):
    print()
    print(f"Raw ptrace round trip (SYSEMU + GETREGS + SETREGS, one CPU, C): {raw['ptrace_roundtrip'] / 1000:.1f} µs; "
          f"moat's getppid is {moat['getppid'] / raw['ptrace_roundtrip']:.2f}× that (the bar is 1.5×).")
PY
{
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) CPUs, kernel $(uname -r), \`tests/bench/run.sh\`; runsc $(runsc --version 2>/dev/null | head -1 | awk '{print $3}')."
} >> "$rows"
replace_table sentry "$rows"
cat "$rows"

# Container lifecycle, docker runs and idle memory against runc, crun and runsc.
bash tests/bench/lifecycle.sh "$rows"
{
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) CPUs, kernel $(uname -r), \`tests/bench/run.sh\` (\`tests/bench/lifecycle.sh\`); runc $(runc --version | head -1 | awk '{print $3}'), crun $(crun --version | head -1 | awk '{print $3}')."
} >> "$rows"
replace_table lifecycle "$rows"
cat "$rows"

# The glibc workloads and thread programs against native and runsc.
bash tests/bench/workloads.sh "$rows"
{
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) CPUs, kernel $(uname -r), \`tests/bench/workloads.sh\` (release build); runsc from Debian."
} >> "$rows"
replace_table workloads "$rows"
cat "$rows"
