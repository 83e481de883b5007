#!/usr/bin/env bash
# The glibc workloads of the threads issue, natively, under `moat do` and
# under `runsc --platform=ptrace do`, in one run: whole commands timed with
# hyperfine, and two thread programs that time themselves. Writes the rows
# of docs/performance.md's "workloads" table to $1. Not a test: nothing here
# passes or fails on a timing. Needs root, hyperfine and runsc.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1
MOAT=${MOAT_BIN:-target/release/moat}
for t in hyperfine runsc gcc sqlite3 git /usr/bin/python3; do
    command -v "$t" >/dev/null || { echo "workloads.sh: $t missing" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/moat-workloads.XXXXXX)
trap 'rm -rf "$work"' EXIT
RUNSC="runsc --platform=ptrace --network=none --root $work/runsc-root do"

gcc -O2 -static -o "$work/futex_pingpong" tests/bench/c/futex_pingpong.c
gcc -O2 -static -o "$work/thread_create" tests/bench/c/thread_create.c
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' > "$work/hello.c"

# name|command, run through /bin/sh -c in each environment. Files go to
# /dev/shm, a memory file system in all three (natively /tmp is this host's
# disk, while moat's and runsc's /tmp are in memory).
cases=(
    "\`python3 -c pass\`|/usr/bin/python3 -c pass"
    "\`python3 -c 'import json, sqlite3, asyncio'\`|/usr/bin/python3 -c 'import json, sqlite3, asyncio'"
    "gcc hello world build|gcc -o /dev/shm/moat-bench-hello $work/hello.c && rm -f /dev/shm/moat-bench-hello"
    "sqlite3: 100,000 inserts in a transaction|rm -f /dev/shm/moat-bench.db && sqlite3 /dev/shm/moat-bench.db 'begin; create table t(x); with recursive c(i) as (select 1 union all select i+1 from c where i<100000) insert into t select i from c; commit;' && rm -f /dev/shm/moat-bench.db"
    "git: commit of 1,000 files|d=\$(mktemp -d -p /dev/shm) && cd \$d && git init -q && for i in \$(seq 1000); do echo \$i > f\$i; done && git add . && git -c user.name=b -c user.email=b@b commit -qm x && cd / && rm -rf \$d"
)
rows=()
for c in "${cases[@]}"; do
    name=${c%%|*}
    cmd=${c#*|}
    hyperfine -N --warmup 1 --runs "${RUNS:-5}" --export-json "$work/h.json" \
        -n native "/bin/sh -c \"$cmd\"" \
        -n moat "$MOAT do -- /bin/sh -c \"$cmd\"" \
        -n runsc "$RUNSC /bin/sh -c \"$cmd\"" >/dev/null
    rows+=("$name|$(/usr/bin/python3 -c 'import json,sys; print(" ".join(str(r["mean"]*1000) for r in json.load(open(sys.argv[1]))["results"]))' "$work/h.json")|ms")
done
# Programs that time themselves (ns per operation).
for p in "futex_pingpong 2000|4-thread futex ping-pong (per hand-over)" "thread_create 500|pthread_create + join"; do
    args=${p%%|*}
    name=${p#*|}
    n=$("$work"/$args | awk '{print $2}')
    m=$($MOAT do -- "$work"/$args | awk '{print $2}')
    r=$($RUNSC "$work"/$args 2>/dev/null | awk '{print $2}')
    rows+=("$name|$(awk -v a="$n" -v b="$m" -v c="$r" 'BEGIN {print a/1e3, b/1e3, c/1e3}')|µs")
done
{
    echo "| workload | native | moat | runsc-ptrace | moat / native | (moat − native) / (runsc − native) | unit |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    for r in "${rows[@]}"; do
        IFS='|' read -r name times unit <<<"$r"
        read -r n m s <<<"$times"
        awk -v name="$name" -v n="$n" -v m="$m" -v s="$s" -v u="$unit" 'BEGIN {
            f = (n < 1) ? "%.3f" : "%.1f"
            printf "| %s | " f " | " f " | " f " | %.1f× | %.2f | %s |\n", name, n, m, s, m / n, (m - n) / (s - n), u
        }'
    done
} > "$out"
