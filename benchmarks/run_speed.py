"""How long `python -m tryon run` takes on the example photos (target: under 10 s on a 2-core CPU).

Runs the CLI as a user would (a fresh process each time, imports included) and prints a table with the
preprocessing-only cost (`prepare`) in the same run as the baseline to compare against.
Usage: python benchmarks/run_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "assets" / "examples" / "photos"


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tryon", *args], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    person, garment = str(PHOTOS / "person_astronaut.jpg"), str(PHOTOS / "garment_red_tee.jpg")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        prepare = [timed(["prepare", "--person", person, "--garment", garment, "--out", f"{tmp}/ds{i}",
                          "--id", "x"]) for i in range(repeat)]
        run = [timed(["run", "--person", person, "--garment", garment, "--backends", "warp", "--out",
                      f"{tmp}/run{i}"]) for i in range(repeat)]
    for name, values in (("prepare (preprocessing only)", prepare), ("run --backends warp", run)):
        rows.append((name, statistics.median(values), min(values)))
    print(f"{'command':<32} {'median s':>9} {'best s':>8}")
    for name, median, best in rows:
        print(f"{name:<32} {median:>9.2f} {best:>8.2f}")
    ratio = rows[1][1] / rows[0][1]
    print(f"run / prepare: {ratio:.2f}x   target: run under 10 s -> {'met' if rows[1][1] < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
