#!/usr/bin/env bash
# Runs Gavel's trace-driven simulator on the rows tessera compares against, and prints
# one tab-separated line per run: trace, cluster, Gavel policy, seed, makespan_s,
# avg_jct_s. The output is kept in crates/tessera-cli/tests/data/gavel/reference.tsv.
#
# Usage: tools/gavel_reference.sh GAVEL_SCHEDULER_DIR PYTHON
#   GAVEL_SCHEDULER_DIR: the `scheduler` directory of a checkout of
#   stanford-futuredata/gavel (c4fa400). The traces are tessera's copies
#   (crates/tessera-catalog/tests/data/gavel/traces: Gavel's physical-cluster traces,
#   and msr-*-300.trace, written from Gavel's msr traces by tools/gavel_msr_trace.py).
#   PYTHON: an interpreter with cvxpy and ECOS. Gavel's gRPC runtime and
#   matrix_completion are not needed for simulation; empty stand-in modules on
#   PYTHONPATH are enough (runtime/rpc/{scheduler_server,scheduler_client}.py and
#   matrix_completion.py, with the checkout's own runtime/ directory moved aside).
# Rows where Gavel itself fails print empty numbers (finish_time_fairness_perf on
# msr-2869ce-300, 12:12:12: ECOS reports SolverError); they are left out of reference.tsv.
set -euo pipefail
traces="$(cd "$(dirname "$0")/.." && pwd)/crates/tessera-catalog/tests/data/gavel/traces"
dir=$1
py=$2
cd "$dir"
run() { # trace cluster policy seed
  local out mk jct
  out=$("$py" scripts/drivers/simulate_scheduler_with_trace.py -t "$traces/$1.trace" \
    -p "$3" -c "$2" --seed "$4" 2>&1) || true
  mk=$(grep -oE "Total duration: [0-9.]+" <<<"$out" | awk '{print $3}' || true)
  jct=$(grep -oE "^Average job completion time: [0-9.]+" <<<"$out" | awk '{print $5}' || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$mk" "$jct"
}
aware="max_min_fairness_perf fifo_perf min_total_duration_perf max_sum_throughput_perf
  finish_time_fairness_perf"
# Light clusters (Gavel's own sizes for these traces).
for p in $aware; do
  run max_min_fairness 8:16:24 $p 0
  run minimize_makespan 8:16:24 $p 0
done
run artifact_evaluation 2:0:4 min_total_duration_perf 0
for seed in 0 1 2 3; do
  for p in max_min_fairness min_total_duration finish_time_fairness fifo; do
    run max_min_fairness 8:16:24 $p $seed
    run minimize_makespan 8:16:24 $p $seed
  done
  run artifact_evaluation 2:0:4 min_total_duration $seed
done
# Loaded: the same traces on a quarter of the cluster.
for p in $aware; do
  run max_min_fairness 4:4:4 $p 0
  run minimize_makespan 4:4:4 $p 0
done
for seed in 0 1 2 3; do
  for p in max_min_fairness min_total_duration finish_time_fairness fifo; do
    run max_min_fairness 4:4:4 $p $seed
    run minimize_makespan 4:4:4 $p $seed
  done
done
# Philly-derived msr traces, 300 jobs each, on 12:12:12.
for t in msr-103959-300 msr-e13805-300 msr-2869ce-300; do
  for p in $aware; do
    run $t 12:12:12 $p 0
  done
done
for t in msr-103959-300 msr-e13805-300 msr-2869ce-300; do
  for seed in 0 1 2 3; do
    for p in max_min_fairness min_total_duration; do
      run $t 12:12:12 $p $seed
    done
  done
done
