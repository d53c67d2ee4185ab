#!/usr/bin/env python3
"""Issue 17's "beyond Gavel" comparison: tessera's elastic shortest-job-first-perf
against max-min-fairness-perf (Gavel's heterogeneity-aware LAS) on Gavel-trace mixes,
printed as Markdown tables (docs/scheduler.md "Beyond Gavel on Gavel's workloads").

Usage: tools/beyond_gavel.py [TESSERA_BINARY] [--quick]
  (default target/release/tessera). --quick: the msr traces only.

Workloads (Gavel's throughput table, cluster 12:12:12, 360 s rounds, no node model):
- the three Philly-derived msr traces of 300 jobs (tools/gavel_msr_trace.py), with
  restart costs of 0 s (Gavel's simulator) and 60 s;
- generated streams (`--generate 1000 --window 300-799`, Gavel's continuous workload of
  single-worker jobs), seeds 0-4, at mean gaps of 3,600 s, 2,400 s and 642.857 s.
Each cell: average JCT in hours (the window's for streams), and the worst / mean
finish-time-fairness ratio; the change is against max-min-fairness-perf in the same
row. Each policy runs at its own reallocation interval (1,920 s, Gavel's, for
max-min-fairness-perf; every changed round for shortest-job-first) and, in the last
columns, max-min-fairness-perf again with --realloc-s 0, so that both act on arrivals
at once.
"""
import json, statistics, subprocess, sys

ROOT = __file__.rsplit("/tools/", 1)[0]
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
BIN = ARGS[0] if ARGS else f"{ROOT}/target/release/tessera"
DATA = f"{ROOT}/crates/tessera-catalog/tests/data/gavel"
QUICK = "--quick" in sys.argv[1:]

POLICIES = [
    ("max-min-fairness-perf", ["--policy", "max-min-fairness-perf"]),
    ("shortest-job-first-perf", ["--policy", "shortest-job-first-perf"]),
    ("+ --elastic", ["--policy", "shortest-job-first-perf", "--elastic"]),
    ("max-min-fairness-perf --realloc-s 0", ["--policy", "max-min-fairness-perf", "--realloc-s", "0"]),
]


def run(workload, extra):
    out = subprocess.run([BIN, "simulate", "--throughputs", f"{DATA}/simulation_throughputs.json",
                          "--cluster", "12:12:12", "--format", "json"] + workload + extra,
                         capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    jct = d["window_avg_jct_s"] if d["window_avg_jct_s"] is not None else d["avg_jct_s"]
    return jct, d["ftf_rho_max"], d["ftf_rho_mean"]


def cell(r, base):
    jct, worst, mean = r
    change = "" if r is base else f" ({100 * (jct / base[0] - 1):+.1f}%)"
    return f"{jct / 3600:.2f} h{change}, {worst:.2f} / {mean:.2f}"


def table(title, rows):
    print(f"\n{title}\n")
    print("| workload | " + " | ".join(p for p, _ in POLICIES) + " |")
    print("|---|" + "---|" * len(POLICIES))
    for label, workload in rows:
        res = [run(workload, extra) for _, extra in POLICIES]
        print(f"| {label} | " + " | ".join(cell(r, res[0]) for r in res) + " |")
        yield res


def summary(name, results):
    ch = [100 * (r[2][0] / r[0][0] - 1) for r in results]
    ch0 = [100 * (r[2][0] / r[3][0] - 1) for r in results]
    worse = sum(1 for r in results if r[2][1] > r[0][1])
    worse0 = sum(1 for r in results if r[2][1] > r[3][1])
    print(f"\n{name}: elastic shortest-job-first-perf against max-min-fairness-perf: "
          f"average JCT {statistics.mean(ch):+.1f}% (from {min(ch):+.1f}% to {max(ch):+.1f}%), "
          f"worst ratio higher in {worse} of {len(results)}; against it with --realloc-s 0: "
          f"{statistics.mean(ch0):+.1f}% ({min(ch0):+.1f}% to {max(ch0):+.1f}%), "
          f"worst ratio higher in {worse0} of {len(results)}")


msr = [(f"{t} restart {r} s", ["--trace", f"{DATA}/traces/{t}.trace", "--restart-s", str(r)])
       for r in (0, 60) for t in ("msr-103959-300", "msr-e13805-300", "msr-2869ce-300")]
summary("msr traces", list(table("msr traces (300 jobs each)", msr)))
if not QUICK:
    for gap in ("3600", "2400", "642.857"):
        rows = [(f"gap {gap} s, seed {s}", ["--generate", "1000", "--window", "300-799",
                                             "--arrival-s", gap, "--seed", str(s)])
                for s in range(5)]
        summary(f"streams, gap {gap} s", list(table(f"generated streams, mean gap {gap} s", rows)))
