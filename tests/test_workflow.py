"""One try-on end to end through the runner and run.json, with stand-in backends (one fails)."""

import json
from pathlib import Path

import numpy as np

from tryon.backends import base
from tryon.backends.base import Backend, Generated, run_backends
from tryon.cli import main
from tryon.sample import TryOnSample

PHOTOS = Path(__file__).parents[1] / "assets" / "examples" / "photos"


class Invert(Backend):
    name = "invert"
    label = "Invert"

    def generate(self, sample, options, run):
        return Generated(255 - sample.person)


class Broken(Backend):
    name = "broken"

    def generate(self, sample, options, run):
        raise RuntimeError("boom")


def test_failing_backend_does_not_stop_the_others():
    base.set_backend("invert", Invert())
    base.set_backend("broken", Broken())
    sample = TryOnSample(person=np.zeros((8, 8, 3), np.uint8), garment=np.zeros((8, 8, 3), np.uint8))
    results = list(run_backends(["broken", "invert", "no-such-backend"], sample))
    assert [r.backend for r in results] == ["broken", "invert", "no-such-backend"]
    assert results[0].error == "RuntimeError: boom"
    assert results[1].ok and (results[1].image == 255).all() and results[1].seconds >= 0
    assert "unknown backend" in results[2].error


def test_cli_run_writes_results_and_run_json(tmp_path, capsys):
    base.set_backend("invert", Invert())
    base.set_backend("broken", Broken())
    out = tmp_path / "out"
    code = main(["run", "--person", str(PHOTOS / "person_astronaut.jpg"), "--garment",
                 str(PHOTOS / "garment_red_tee.jpg"), "--backends", "invert,broken", "--out", str(out),
                 "--seed", "7"])
    assert code == 1  # one backend failed
    assert (out / "invert.png").is_file() and not (out / "broken.png").exists()
    record = json.loads((out / "run.json").read_text())
    by_name = {r["backend"]: r for r in record["results"]}
    assert by_name["invert"]["ok"] and by_name["invert"]["seed"] == 7
    assert by_name["broken"]["error"] == "RuntimeError: boom"
    assert record["preprocessing"]["keypoints"].startswith("mediapipe")
    assert any("r_hip" in a for a in record["assumptions"])
    assert {"torch", "diffusers", "tryon"} <= set(record["versions"])
