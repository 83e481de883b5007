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

packages=(libseccomp-dev pkg-config gcc busybox-static)
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
cargo test --workspace
