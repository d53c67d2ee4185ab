#!/usr/bin/env python3
"""Writes one of Gavel's Philly-derived msr traces (7 columns) in Gavel's current
10-column layout, keeping only the jobs whose (job type, scale factor) the throughput
table has (Gavel's simulator stops with a KeyError on the others), so that Gavel itself
can replay it beside tessera.

Usage: tools/gavel_msr_trace.py MSR_TRACE THROUGHPUTS_JSON [MAX_JOBS] > OUT.trace
  MAX_JOBS: keep at most this many of the kept jobs, in arrival order (default all).
The 7 columns are job_type, command, num_steps_arg, needs_data_dir, total_steps,
arrival_time, scale_factor; the 10 are job_type, command, working_directory,
num_steps_arg, needs_data_dir, total_steps, scale_factor, priority_weight, SLO,
arrival_time. Written: working directory empty, priority weight 1, no SLO (-1).
Prints to stderr how many jobs were read, kept and dropped.
"""
import json, sys

trace, tput = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
table = json.load(open(tput))
types = [t for t in table if not t.endswith("_unconsolidated")]
read = kept = 0
out = []
for n, line in enumerate(open(trace), 1):
    cols = line.rstrip("\n").split("\t")
    if len(cols) != 7:
        sys.exit(f"{trace}:{n}: expected 7 tab-separated columns, found {len(cols)}")
    job_type, command, steps_arg, data_dir, steps, arrival, scale = cols
    read += 1
    key = str((job_type, int(scale)))
    if not all(key in table[t] for t in types):
        continue
    if limit is not None and kept >= limit:
        continue
    kept += 1
    out.append("\t".join([job_type, command, "", steps_arg, data_dir, steps, scale, "1", "-1",
                          arrival]))
sys.stdout.write("".join(l + "\n" for l in out))
print(f"{trace}: read {read} jobs, kept {kept}, dropped {read - kept} "
      f"(no throughput, or past {limit})", file=sys.stderr)
