#!/usr/bin/env bash
# Time-boxed fuzzing of tessera's parsers on the stable toolchain (no sanitizer).
# Usage: fuzz/run.sh [SECONDS_PER_TARGET]   (default 120)
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-120}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in catalog_toml hf_config date lengths_csv validation_rows measurements_csv fleet_toml scenario_toml gavel_trace gavel_throughputs jobs_toml slurm_output server_job engine_json; do
    mkdir -p "corpus/$t"
    seeds=()
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    echo "== $t: ${secs}s"
    cargo fuzz run --sanitizer none --debug-assertions "$t" "corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$secs" -max_len=65536 -print_final_stats=1 2>&1 | grep -E "^(Done|stat::|==|INFO: (seed|-max_len)|.*(panicked|ERROR|SUMMARY))" || true
done
