#!/usr/bin/env python3
"""Side by side with Gavel: runs `tessera simulate` on every row of
crates/tessera-cli/tests/data/gavel/reference.tsv (Gavel's own results, from
tools/gavel_reference.sh) and prints a Markdown table: seed-independent rows as they
are, seeded (agnostic) rows as the mean over the seeds on both sides.

Usage: tools/gavel_compare.py [TESSERA_BINARY] [--solvers | --modes]
  (default target/release/tessera). Without a flag: the simplex method, tessera's
  mechanism. --solvers: both LP methods (--solver simplex and --solver interior).
  --modes: those two and --gavel-compat --solver interior (Gavel's behaviour), the
  deviation of each against Gavel side by side.
"""
import collections, json, statistics, subprocess, sys

ROOT = __file__.rsplit("/tools/", 1)[0]
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
BIN = ARGS[0] if ARGS else f"{ROOT}/target/release/tessera"
DATA = f"{ROOT}/crates/tessera-catalog/tests/data/gavel"
REF = f"{ROOT}/crates/tessera-cli/tests/data/gavel/reference.tsv"
if "--modes" in sys.argv[1:]:
    MODES = [("simplex", []), ("interior", []), ("interior", ["--gavel-compat"])]
elif "--solvers" in sys.argv[1:]:
    MODES = [("simplex", []), ("interior", [])]
else:
    MODES = [("simplex", [])]

def tessera_policy(gavel):
    return gavel.replace("min_total_duration", "min_makespan").replace("_perf", "-perf").replace("_", "-")

rows = collections.OrderedDict()
for line in open(REF):
    trace, cluster, policy, seed, mk, jct = line.rstrip("\n").split("\t")
    rows.setdefault((trace, cluster, policy), []).append((int(seed), float(mk), float(jct)))

def run(trace, cluster, policy, seed, solver, extra):
    out = subprocess.run([BIN, "simulate", "--trace", f"{DATA}/traces/{trace}.trace",
                          "--throughputs", f"{DATA}/simulation_throughputs.json",
                          "--cluster", cluster, "--policy", tessera_policy(policy),
                          "--seed", str(seed), "--solver", solver, "--format", "json"] + extra,
                         capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    return d["makespan_s"], d["avg_jct_s"], d["wall_time_s"]

def name(solver, extra):
    return " ".join([solver] + [e.lstrip("-") for e in extra])

if len(MODES) == 1:
    print("| trace | cluster | policy | seeds | Gavel makespan / avg JCT | tessera makespan / avg JCT | deviation | tessera wall |")
    print("|---|---|---|---|---|---|---|---|")
else:
    heads = " | ".join(f"{name(s, e)}: deviation" for s, e in MODES)
    walls = " / ".join(name(s, e) for s, e in MODES)
    print(f"| trace | cluster | policy | seeds | Gavel makespan / avg JCT | {heads} | wall {walls} |")
    print("|---|---|---|---|---|" + "---|" * len(MODES) + "---|")
for (trace, cluster, policy), runs in rows.items():
    g_mk = statistics.mean(r[1] for r in runs) / 3600
    g_j = statistics.mean(r[2] for r in runs) / 3600
    seeds = f"{runs[0][0]}" if len(runs) == 1 else f"{runs[0][0]}-{runs[-1][0]}"
    cells, walls = [], []
    for solver, extra in MODES:
        ours = [run(trace, cluster, policy, seed, solver, extra) for seed, _, _ in runs]
        cells.append((statistics.mean(o[0] for o in ours) / 3600,
                      statistics.mean(o[1] for o in ours) / 3600))
        walls.append(statistics.mean(o[2] for o in ours))
    if len(MODES) > 1:
        dev = " | ".join(f"{100*(m/g_mk-1):+.1f}% / {100*(j/g_j-1):+.1f}%" for m, j in cells)
        wall = " / ".join(f"{w:.3f}" for w in walls)
        print(f"| {trace} | {cluster} | {tessera_policy(policy)} | {seeds} | {g_mk:.2f} h / {g_j:.2f} h "
              f"| {dev} | {wall} s |")
    else:
        t_mk, t_j = cells[0]
        print(f"| {trace} | {cluster} | {tessera_policy(policy)} | {seeds} | {g_mk:.2f} h / {g_j:.2f} h "
              f"| {t_mk:.2f} h / {t_j:.2f} h | {100*(t_mk/g_mk-1):+.1f}% / {100*(t_j/g_j-1):+.1f}% "
              f"| {walls[0]:.3f} s |")
