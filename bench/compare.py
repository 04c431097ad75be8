"""Compare two `make bench` tables: `python bench/compare.py A.json B.json`.

Prints every figure of B next to the same job in A with the change, and flags a figure that got
worse by more than --tolerance (default 10 %) in the direction its target cares about (a ratio
or time that grew, a rate that fell). Exit status 1 when any did.
"""

from __future__ import annotations

import argparse
import json
import sys


def higher_is_better(figure: dict) -> bool:
    target = figure.get("target")
    if target:
        return target[0].endswith(">=")
    return figure.get("unit", "").endswith("/s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--tolerance", type=float, default=0.10)
    args = parser.parse_args()
    with open(args.before) as first, open(args.after) as second:
        before, after = json.load(first), json.load(second)
    old = {figure["job"]: figure for figure in before["figures"]}
    print(f"A: {before['scale']} {before['finished_at']}  B: {after['scale']} {after['finished_at']}")
    worse = 0
    for figure in after["figures"]:
        previous = old.get(figure["job"])
        # Compare ratios where there is a same-run baseline (host speed cancels out), else the figure.
        use_ratio = figure.get("ratio") is not None and previous and previous.get("ratio") is not None
        key = "ratio" if use_ratio else "figure"
        if previous is None or not previous.get(key):
            print(f"  {figure['job']}: {figure[key]:,.2f} (new)")
            continue
        change = figure[key] / previous[key] - 1
        regressed = change < -args.tolerance if higher_is_better(figure) else change > args.tolerance
        worse += regressed
        print(f"  {figure['job']}: {key} {previous[key]:,.2f} -> {figure[key]:,.2f} ({change:+.0%})"
              f"{'  WORSE' if regressed else ''}")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
