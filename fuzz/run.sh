#!/usr/bin/env bash
# Usage: fuzz/run.sh [SECONDS [TARGET...]]
# Runs each fuzz target (or the TARGETs given) for SECONDS (default 180) on stable Rust, one after
# the other, then shrinks its corpus to the inputs that add coverage. Prints, per target, its
# executions and time; stops at the first crash (its input is in artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-180}"
shift || true
export RUSTC_BOOTSTRAP=1 # cargo-fuzz passes -Z flags, which stable rustc accepts only so
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
cargo fuzz build
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    log="$(mktemp)"
    cargo fuzz run "$target" -- -max_total_time="$seconds" -dict=yaml.dict -max_len=4096 \
        >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
    # Edges only, not hit counts: a corpus a fraction of the size, for the repository.
    cargo fuzz cmin "$target" -- -use_counters=0 >/dev/null 2>&1
    echo "$target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log")," \
        "corpus $(ls "corpus/$target" | wc -l) files," \
        "$(du -sh --apparent-size "corpus/$target" | cut -f1)"
    rm -f "$log"
done
