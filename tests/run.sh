#!/usr/bin/env bash
# moat's one test command: installs what the tests need (Debian packages),
# checks formatting and lints, builds, runs every unit and integration test,
# and leaves nothing behind (each test removes its scratch directories and
# waits for the processes it starts). Run as root from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "tests/run.sh: must run as root (the tests make namespaces, mounts and confined processes)" >&2
    exit 1
fi
command -v cargo >/dev/null || { echo "tests/run.sh: cargo not found: install a Rust toolchain >= 1.85 (rustup)" >&2; exit 1; }

packages=(libseccomp-dev pkg-config gcc busybox-static docker.io containerd runc)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "tests/run.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --workspace --quiet
export MOAT_BIN="$PWD/target/debug/moat"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line with the totals over every test binary.
passed=$(grep -oE '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s += $1} END {print s + 0}')
echo "moat: $passed passed, $failed failed"
exit "$status"
