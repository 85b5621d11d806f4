"""Kill rate per module of the last `make mutation` run, read from mutmut's ``mutants/**/*.meta``.

Usage: ``python tests/mutation_report.py [--survivors]`` from the repository root.

A mutant counts as killed when a test failed, crashed or timed out on it; as surviving when
every covering test passed, or when no test covers the mutated function at all. Mutants not
run (yet) are left out of the rate and counted apart.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

# mutmut's exit codes (mutmut.stats.status_by_exit_code), grouped.
KILLED = {1, 3, 24, -24, 152, 255, 36, -11, -9, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
MODULES = ("losses", "models", "teacher")


def collect(root: Path = Path("mutants")) -> tuple[dict[str, Counter], dict[str, list[str]]]:
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for meta in sorted(root.glob("kdlib/**/*.py.meta")):
        module = meta.relative_to(root / "kdlib").parts[0]
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if code is None:
                counts[module]["not run"] += 1
            elif code in KILLED:
                counts[module]["killed"] += 1
            elif code in SURVIVED:
                counts[module]["survived"] += 1
                survivors[module].append(name)
            elif code in NO_TESTS:
                counts[module]["no tests"] += 1
                survivors[module].append(name)
            else:
                counts[module]["other"] += 1
                survivors[module].append(f"{name} (exit {code})")
    return counts, survivors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    args = parser.parse_args()
    counts, survivors = collect()
    if not counts:
        print("no mutmut results under mutants/: run `make mutation` first")
        return 1
    print(f"{'module':<10} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} {'not run':>8} {'kill rate':>10}")
    for module in [m for m in MODULES if m in counts]:
        c = counts[module]
        checked = c["killed"] + c["survived"] + c["no tests"] + c["other"]
        rate = f"{100 * c['killed'] / checked:.1f}%" if checked else "-"
        print(f"{module:<10} {sum(c.values()):>8} {c['killed']:>7} {c['survived'] + c['other']:>9} {c['no tests']:>9} "
              f"{c['not run']:>8} {rate:>10}")
    if args.survivors:
        for module in MODULES:
            for name in survivors.get(module, []):
                print(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
