#!/usr/bin/env bash
# Container lifecycle and idle memory: moat against runc, crun and
# runsc --platform=ptrace, on one busybox bundle, in one run. Writes the
# "lifecycle" table of docs/performance.md (through run.sh's replace_table
# when called from there) or prints it. Not a test: nothing passes or fails.
#
#   tests/bench/lifecycle.sh ROWS-FILE   (MOAT_BIN: the moat binary)
#
# Host quirks handled here: crun 1.8 refuses this machine's hybrid cgroup
# layout, so it runs in a mount namespace where /sys/fs/cgroup/unified is
# unmounted (entered with nsenter, whose own cost is measured as a
# baseline); runsc's delete waits for its sandbox to be reaped, so every
# command runs under a child subreaper, as under containerd-shim.
set -euo pipefail
rows=${1:?rows file}
moat=${MOAT_BIN:?MOAT_BIN}
for t in runc crun runsc hyperfine jq gcc; do command -v $t >/dev/null || { echo "lifecycle.sh: $t missing" >&2; exit 1; }; done
work=$(mktemp -d /var/tmp/moat-bench-lc.XXXXXX)
ns=$work/ns
cleanup() {
    for rt in runc crun runsc moat; do
        for id in $(ls "$work/state/$rt" 2>/dev/null); do :; done
    done
    [ -e "$ns/crun" ] && umount "$ns/crun" 2>/dev/null || true
    [ -d "$ns" ] && umount "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
gcc -O2 -o "$work/reaper" tests/bench/c/reaper.c

bundle() { # DIR ARGS...
    local dir=$1; shift
    mkdir -p "$dir/rootfs"/{bin,etc,tmp,proc,dev,sys}
    cp /bin/busybox "$dir/rootfs/bin/busybox"
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$a"; done
    "$moat" spec --bundle "$dir"
    jq --argjson a "$(printf '%s\n' "$@" | jq -R . | jq -s .)" '.process.terminal=false | .process.args=$a' \
        "$dir/config.json" > "$dir/c" && mv "$dir/c" "$dir/config.json"
}
bundle "$work/true" /bin/true
bundle "$work/sleep" /bin/sleep 1000

# A persistent mount namespace for crun, without the v2 hierarchy.
mkdir -p "$ns" && mount --bind "$ns" "$ns" && mount --make-private "$ns"
touch "$ns/crun"
unshare --mount="$ns/crun" --propagation private true
nsenter --mount="$ns/crun" umount /sys/fs/cgroup/unified 2>/dev/null || true

S=$work/state
R="$work/reaper"
MOAT="$moat --root $S/moat"
RUNC="runc --root $S/runc"
CRUN="nsenter --mount=$ns/crun crun --root $S/crun"
RUNSC="runsc --root $S/runsc --platform=ptrace --network=none"
B=$work/true
hyperfine -N --warmup 3 --runs "${RUNS:-20}" --export-json "$work/run.json" \
    -n nsenter "$R nsenter --mount=$ns/crun /bin/true" \
    -n moat "$R $MOAT run --bundle $B b-moat" \
    -n runc "$R $RUNC run --bundle $B b-runc" \
    -n crun "$R $CRUN run --bundle $B b-crun" \
    -n runsc "$R $RUNSC run --bundle $B b-runsc" --show-output >"$work/hyperfine.log" 2>&1 || { tail -20 "$work/hyperfine.log" >&2; exit 1; }

# Idle memory: PSS of every host process of a sandbox running sleep.
pss() { local s=0 p v; for p in "$@"; do v=$(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0); s=$((s + v)); done; echo $s; }
descendants() { # PIDS... -> them and all their descendants
    local all=" $* " changed=1 d p pp
    while [ $changed = 1 ]; do
        changed=0
        for d in /proc/[0-9]*; do
            p=${d#/proc/}; pp=$(awk '{print $4}' "$d/stat" 2>/dev/null) || continue
            case "$all" in *" $pp "*) case "$all" in *" $p "*) ;; *) all="$all$p "; changed=1;; esac;; esac
        done
    done
    echo $all
}
$MOAT run --detach --bundle "$work/sleep" m-moat </dev/null >/dev/null 2>&1
sleep 3
moat_kb=$(pss $($MOAT ps --format json m-moat | jq -r '.[]'))
moat_n=$($MOAT ps --format json m-moat | jq length)
$MOAT delete --force m-moat
$R $RUNSC create --bundle "$work/sleep" m-runsc </dev/null >/dev/null 2>&1 && $RUNSC start m-runsc
sleep 3
sf=$(ls "$S"/runsc/*m-runsc*.state 2>/dev/null | head -1)
sb=$(jq -r '.Sandbox.Pid // .sandbox.pid' "$sf"); go=$(jq -r '.GoferPid // .goferPid' "$sf")
runsc_pids=$(descendants $sb $go)
runsc_kb=$(pss $runsc_pids)
runsc_n=$(echo $runsc_pids | wc -w)
$R $RUNSC delete --force m-runsc >/dev/null 2>&1 || true
$RUNC run --detach --bundle "$work/sleep" m-runc </dev/null >/dev/null 2>&1
sleep 1
runc_kb=$(pss $(descendants $($RUNC state m-runc | jq -r .pid)))
$RUNC delete --force m-runc

# docker run --rm of /bin/true through a private containerd and dockerd.
d=$work/docker
mkdir -p "$d"
cat > "$d/containerd.toml" <<EOT
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
[grpc]
  address = "$d/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"
EOT
containerd --config "$d/containerd.toml" > "$d/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do [ -S "$d/containerd.sock" ] && break; sleep 0.1; done
"$moat" install --config-file "$d/daemon.json" >/dev/null
/usr/bin/python3 - "$d/daemon.json" "$(command -v runsc)" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["runtimes"]["runsc-ptrace"] = {"path": sys.argv[2], "runtimeArgs": ["--platform=ptrace", "--network=none"]}
json.dump(doc, open(sys.argv[1], "w"))
PY
dockerd --config-file "$d/daemon.json" --containerd "$d/containerd.sock" --data-root "$d/data" --exec-root "$d/exec" \
    --pidfile "$d/dockerd.pid" -H "unix://$d/docker.sock" --iptables=false --ip6tables=false --ip-forward=false \
    --ip-masq=false --bridge=none > "$d/dockerd.log" 2>&1 &
dockerd_pid=$!
DK="docker -H unix://$d/docker.sock"
for _ in $(seq 120); do $DK info >/dev/null 2>&1 && break; sleep 0.5; done
tar --numeric-owner -C "$work/true/rootfs" -c . | $DK import - bench/busybox >/dev/null
hyperfine -N --warmup 2 --runs "${DOCKER_RUNS:-10}" --export-json "$work/docker.json" \
    -n runc "$DK run --rm --network=none --runtime=runc bench/busybox /bin/true" \
    -n moat "$DK run --rm --network=none --runtime=moat bench/busybox /bin/true" \
    -n runsc "$DK run --rm --network=none --runtime=runsc-ptrace bench/busybox /bin/true" >"$work/docker-hf.log" 2>&1 \
    || { tail -20 "$work/docker-hf.log" >&2; }
kill "$dockerd_pid"; wait "$dockerd_pid" 2>/dev/null || true
kill "$containerd_pid"; wait "$containerd_pid" 2>/dev/null || true
for m in $(awk -v d="$d" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done

/usr/bin/python3 - "$work/run.json" "$moat_kb" "$moat_n" "$runsc_kb" "$runsc_n" "$runc_kb" "$work/docker.json" > "$rows" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
moat_kb, moat_n, runsc_kb, runsc_n, runc_kb = map(int, sys.argv[2:7])
ms = lambda n: res[n]["mean"] * 1000
sd = lambda n: res[n]["stddev"] * 1000
crun = ms("crun") - ms("nsenter")
print("| runtime | `run` of /bin/true (ms) | ± (ms) | moat / it |")
print("|---|---:|---:|---:|")
for n, label in [("moat", "moat"), ("runc", "runc"), ("crun", "crun (minus nsenter's own cost)"), ("runsc", "runsc --platform=ptrace")]:
    t = crun if n == "crun" else ms(n)
    print(f"| {label} | {t:.1f} | {sd(n):.1f} | {ms('moat') / t:.2f} |")
print(f"| (nsenter alone, taken off crun) | {ms('nsenter'):.1f} | {sd('nsenter'):.1f} | |")
print()
print("| idle sandbox running `sleep` | host processes | PSS (MiB) |")
print("|---|---:|---:|")
print(f"| moat | {moat_n} | {moat_kb / 1024:.1f} |")
print(f"| runsc --platform=ptrace | {runsc_n} | {runsc_kb / 1024:.1f} |")
print(f"| runc | 1 | {runc_kb / 1024:.1f} |")
print()
import os
if os.path.exists(sys.argv[7]):
    dres = {r["command"]: r for r in json.load(open(sys.argv[7]))["results"]}
    print("| `docker run --rm` of /bin/true | mean (ms) | ± (ms) |")
    print("|---|---:|---:|")
    for n in ["runc", "moat", "runsc"]:
        if n in dres:
            print(f"| {n} | {dres[n]['mean'] * 1000:.0f} | {dres[n]['stddev'] * 1000:.0f} |")
    print()
print(f"moat's lifecycle is {ms('moat') / crun:.2f}× crun's and {ms('moat') / ms('runsc'):.2f}× runsc's; "
      f"its idle memory {moat_kb / max(runsc_kb, 1):.2f}× runsc's.")
PY
cat "$rows"
