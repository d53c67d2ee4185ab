#!/usr/bin/env python3
"""Side by side with Gavel: runs `tessera simulate` on every row of
crates/tessera-cli/tests/data/gavel/reference.tsv (Gavel's own results, from
tools/gavel_reference.sh) and prints a Markdown table: seed-independent rows as they
are, seeded (agnostic) rows as the mean over the seeds on both sides.

Usage: tools/gavel_compare.py [TESSERA_BINARY] [--solvers]
  (default target/release/tessera). With --solvers, every row is run with both LP
  methods (--solver simplex and --solver interior) and the table shows both.
"""
import collections, json, statistics, subprocess, sys, time

ROOT = __file__.rsplit("/tools/", 1)[0]
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
BOTH = "--solvers" in sys.argv[1:]
BIN = ARGS[0] if ARGS else f"{ROOT}/target/release/tessera"
DATA = f"{ROOT}/crates/tessera-catalog/tests/data/gavel"
REF = f"{ROOT}/crates/tessera-cli/tests/data/gavel/reference.tsv"

def tessera_policy(gavel):
    return gavel.replace("min_total_duration", "min_makespan").replace("_perf", "-perf").replace("_", "-")

rows = collections.OrderedDict()
for line in open(REF):
    trace, cluster, policy, seed, mk, jct = line.rstrip("\n").split("\t")
    rows.setdefault((trace, cluster, policy), []).append((int(seed), float(mk), float(jct)))

def run(trace, cluster, policy, seed, solver):
    out = subprocess.run([BIN, "simulate", "--trace", f"{DATA}/traces/{trace}.trace",
                          "--throughputs", f"{DATA}/simulation_throughputs.json",
                          "--cluster", cluster, "--policy", tessera_policy(policy),
                          "--seed", str(seed), "--solver", solver, "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    return d["makespan_s"], d["avg_jct_s"], d["wall_time_s"]

solvers = ["simplex", "interior"] if BOTH else ["simplex"]
if BOTH:
    print("| trace | cluster | policy | seeds | Gavel makespan / avg JCT | simplex: deviation | interior: deviation | wall simplex / interior |")
    print("|---|---|---|---|---|---|---|---|")
else:
    print("| trace | cluster | policy | seeds | Gavel makespan / avg JCT | tessera makespan / avg JCT | deviation | tessera wall |")
    print("|---|---|---|---|---|---|---|---|")
for (trace, cluster, policy), runs in rows.items():
    g_mk = statistics.mean(r[1] for r in runs) / 3600
    g_j = statistics.mean(r[2] for r in runs) / 3600
    seeds = f"{runs[0][0]}" if len(runs) == 1 else f"{runs[0][0]}-{runs[-1][0]}"
    cells, walls = [], []
    for solver in solvers:
        ours = [run(trace, cluster, policy, seed, solver) for seed, _, _ in runs]
        t_mk = statistics.mean(o[0] for o in ours) / 3600
        t_j = statistics.mean(o[1] for o in ours) / 3600
        wall = statistics.mean(o[2] for o in ours)
        cells.append((t_mk, t_j))
        walls.append(wall)
    if BOTH:
        dev = [f"{100*(m/g_mk-1):+.1f}% / {100*(j/g_j-1):+.1f}%" for m, j in cells]
        print(f"| {trace} | {cluster} | {tessera_policy(policy)} | {seeds} | {g_mk:.2f} h / {g_j:.2f} h "
              f"| {dev[0]} | {dev[1]} | {walls[0]:.3f} s / {walls[1]:.3f} s |")
    else:
        t_mk, t_j = cells[0]
        print(f"| {trace} | {cluster} | {tessera_policy(policy)} | {seeds} | {g_mk:.2f} h / {g_j:.2f} h "
              f"| {t_mk:.2f} h / {t_j:.2f} h | {100*(t_mk/g_mk-1):+.1f}% / {100*(t_j/g_j-1):+.1f}% "
              f"| {walls[0]:.3f} s |")
