#!/usr/bin/env python3
"""Writes a tessera job file of LLM training jobs with Poisson arrivals (issue 17's job
mixes): `python3 tools/llm_jobs.py --seed 0 --jobs 60 --arrival-s 1800 > FILE`.

Each job draws a (model, chips) class uniformly from CLASSES and its tokens from a
log-uniform range around the class's size, so that it runs roughly 2 to 16 hours on its
chips; arrivals are exponential with the given mean. Standard library only; the same
seed writes the same file. The sizes are illustrative, not drawn from a published trace.
"""

import argparse
import random

# (model, chips, tokens at the low end): jobs from an 8-chip fine-tune to a 64-chip
# pre-training run, all of them multiples of 8 (whole nodes).
CLASSES = [
    ("llama2-7b", 8, 1.0e9),
    ("llama3-8b", 8, 1.0e9),
    ("llama2-13b", 16, 1.5e9),
    ("qwen3-8b", 16, 2.0e9),
    ("mixtral-8x7b", 32, 2.0e9),
    ("ernie-4.5-21b-a3b", 16, 3.0e9),
    ("qwen3-32b", 32, 1.5e9),
    ("llama3-70b", 64, 1.0e9),
]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=60)
    p.add_argument("--arrival-s", type=float, default=1800.0)
    a = p.parse_args()
    rng = random.Random(a.seed)
    print(f"# {a.jobs} LLM training jobs, Poisson arrivals every {a.arrival_s:g} s on average,")
    print(f"# seed {a.seed}: written by `python3 tools/llm_jobs.py --seed {a.seed} "
          f"--jobs {a.jobs} --arrival-s {a.arrival_s:g}` (illustrative sizes).")
    t = 0.0
    for _ in range(a.jobs):
        model, chips, low = CLASSES[rng.randrange(len(CLASSES))]
        tokens = low * 8.0 ** rng.random()
        print()
        print("[[job]]")
        print(f'model = "{model}"')
        print(f"chips = {chips}")
        print(f"tokens = {tokens:.4g}")
        print(f"arrival-s = {t:.0f}")
        t += rng.expovariate(1.0 / a.arrival_s)


if __name__ == "__main__":
    main()
