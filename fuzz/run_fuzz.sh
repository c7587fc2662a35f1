#!/usr/bin/env bash
# Runs the protocol fuzzer: every regression input once, then a bounded session seeded from captured client
# requests. Usage: run_fuzz.sh FUZZER CAPTURES_DIR REGRESSIONS_DIR ARTIFACTS_DIR
set -euo pipefail
fuzzer=$1 captures=$2 regressions=$3 artifacts=$4
seconds=${FLOE_FUZZ_SECONDS:-60}

mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Regressions: each input that once crashed must now pass.
shopt -s nullglob
regs=("$regressions"/*)
if ((${#regs[@]})); then
  "$fuzzer" -runs=0 "${regs[@]}" > "$work/regressions.log" 2>&1 || { cat "$work/regressions.log"; exit 1; }
  echo "fuzz: ${#regs[@]} regression inputs pass"
fi

# 2. Seeds: each captured request as a one-frame stream (mode 0) and as a bare body is left to the fuzzer.
mkdir -p "$work/corpus"
n=$(python3 - "$captures" "$work/corpus" <<'PY'
import os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
n = 0
for name in sorted(os.listdir(src)):
    if name.endswith(".bin"):
        frame = open(os.path.join(src, name), "rb").read()
        open(os.path.join(dst, "frame-%d" % n), "wb").write(b"\x00" + struct.pack(">i", len(frame)) + frame)
        n += 1
print(n)
PY
)
echo "fuzz: $n seeds, $seconds s"

# 3. Fuzz. Any crash leaves its input in $artifacts; copy it to fuzz/regressions once fixed.
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$work/corpus" > "$work/fuzz.log" 2>&1 || {
  tail -n 60 "$work/fuzz.log"
  echo "fuzz: FAILED, inputs in $artifacts"
  exit 1
}
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/fuzz.log" || true
echo "fuzz: ok"
