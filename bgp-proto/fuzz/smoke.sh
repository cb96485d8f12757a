#!/usr/bin/env bash
# Short fuzz smoke run for CI: each target for ${FUZZ_SECONDS:-20} s. Skips (exit 0) when
# cargo-fuzz is missing. Seeds the corpora first when the seed
# data is there. Any crash fails the script; the input is left in artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-20}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz smoke: cargo-fuzz not installed (cargo install cargo-fuzz); skipped"
    exit 0
fi
if rustup run nightly rustc --version >/dev/null 2>&1; then
    run=(cargo +nightly fuzz run)
else
    # No nightly: cargo-fuzz needs -Z flags, which stable accepts with RUSTC_BOOTSTRAP.
    export RUSTC_BOOTSTRAP=1
    run=(cargo fuzz run --sanitizer none)
fi
[ -d corpus ] || python3 seed.py 2>/dev/null || true
status=0
for t in decode_message roundtrip mrt_reader; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "fuzz smoke: $t for ${secs}s"
    log="$(mktemp)"
    extra=()
    [ "$t" = mrt_reader ] && extra=(-max_len=16384)
    if ! "${run[@]}" "$t" "corpus/$t" -- -max_total_time="$secs" "${extra[@]}" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz smoke: $t FAILED (input in artifacts/$t/)"
        status=1
    fi
    grep -E "^stat::(number_of_executed_units|average_exec_per_sec)" "$log" || true
    rm -f "$log"
done
[ "$status" = 0 ] && echo "fuzz smoke: ok"
exit "$status"
