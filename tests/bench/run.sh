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
