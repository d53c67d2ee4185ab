#!/usr/bin/env bash
# Runs Gavel's trace-driven simulator on the rows tessera compares against, and prints
# one tab-separated line per run: trace, cluster, Gavel policy, seed, makespan_s,
# avg_jct_s. The output is kept in crates/tessera-cli/tests/data/gavel/reference.tsv.
#
# Usage: tools/gavel_reference.sh GAVEL_SCHEDULER_DIR PYTHON
#   GAVEL_SCHEDULER_DIR: the `scheduler` directory of a checkout of
#   stanford-futuredata/gavel (c4fa400), with the traces in its traces/ directory.
#   PYTHON: an interpreter with cvxpy and ECOS. Gavel's gRPC runtime and
#   matrix_completion are not needed for simulation; empty stand-in modules on
#   PYTHONPATH are enough.
set -euo pipefail
dir=$1
py=$2
cd "$dir"
run() { # trace cluster policy seed
  out=$("$py" scripts/drivers/simulate_scheduler_with_trace.py -t "traces/$1.trace" \
    -p "$3" -c "$2" --seed "$4" 2>&1)
  mk=$(grep -oE "Total duration: [0-9.]+" <<<"$out" | awk '{print $3}')
  jct=$(grep -oE "^Average job completion time: [0-9.]+" <<<"$out" | awk '{print $5}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$mk" "$jct"
}
for p in max_min_fairness_perf fifo_perf min_total_duration_perf max_sum_throughput_perf \
  finish_time_fairness_perf; do
  run max_min_fairness 8:16:24 $p 0
  run minimize_makespan 8:16:24 $p 0
done
run artifact_evaluation 2:0:4 min_total_duration_perf 0
for s in 0 1 2 3; do
  for p in max_min_fairness min_total_duration finish_time_fairness fifo; do
    run max_min_fairness 8:16:24 $p $s
    run minimize_makespan 8:16:24 $p $s
  done
  run artifact_evaluation 2:0:4 min_total_duration $s
done
