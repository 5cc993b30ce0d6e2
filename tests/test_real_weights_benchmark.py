"""benchmarks/real_weights.py runs in CI on the tests' tiny weights: imported through `weights fetch --from`,
checked, loaded and run once each, in a separate process (the backends' shared instances stay untouched)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_dry_run_checks_loads_and_runs_every_backend():
    done = subprocess.run([sys.executable, "benchmarks/real_weights.py", "--dry-run"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    table = done.stdout[done.stdout.index("backend "):].splitlines()[2:]
    assert [line.split()[0] for line in table] == ["ladi-vton", "prompt-dresser", "pasta-gan++"]
    for line in table:
        fields = line.split()
        assert fields[2] == "ok" and all(float(value) > 0 for value in fields[3:6]), line
