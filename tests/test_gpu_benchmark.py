"""benchmarks/gpu.py in its --dry-run size: every section runs end to end on a CPU with the tiny weights."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_dry_run(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--dry-run", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = report["rows"]
    modes = [r for r in rows if r["section"] == "modes"]
    assert len(modes) == 15  # 3 backends x 5 modes
    ran = [r for r in modes if r["seconds"] is not None]
    assert len(ran) == 13 and all(r["peak_mb"] and r["estimate_mb"] for r in ran)
    assert {r["mode"] for r in modes if r["backend"] == "pasta-gan++" and r["seconds"] is None} == {
        "fp16 + model offload", "fp16 + sequential offload"}
    # the half-precision and offload modes really ran (the runner reports the mode it used) ...
    assert {r["mode"] for r in ran if r["backend"] == "ladi-vton"} == {
        "cpu fp32", "cpu fp16", "cpu bf16", "cpu fp16 + model offload", "cpu fp16 + sequential offload"}
    # ... and each half-precision row says how far it is from the fp32 image
    half = [r for r in ran if " fp16" in r["mode"] or " bf16" in r["mode"]]
    assert len(half) == 10 and all(r["note"].startswith("vs fp32: max ") for r in half)
    cards = {(r["card"], r["backend"]): r for r in rows if r["section"] == "cards"}
    assert len(cards) == 9 and all(r["seconds"] is not None for r in cards.values())
    # auto with the released sizes' estimates: LaDI-VTON offloads more on smaller cards, PromptDresser streams
    assert cards["3 GB", "ladi-vton"]["mode"].endswith("sequential offload")
    assert cards["6 GB", "ladi-vton"]["mode"].endswith("model offload")
    assert cards["8 GB", "ladi-vton"]["mode"] == "cpu fp16"
    assert all(cards[c, "prompt-dresser"]["mode"].endswith("sequential offload") for c in ("3 GB", "6 GB", "8 GB"))
    assert cards["8 GB", "prompt-dresser"]["note"] == "as on the 3 GB card"
    side = [r for r in rows if r["section"] == "side-by-side"]
    assert len(side) == 1 and side[0]["seconds"] > 0 and "x the sum alone" in side[0]["note"]
    assert any(goal.startswith("side by side") for goal, _, _ in report["targets"])
    assert "| card | backend | mode |" in proc.stdout and "targets (dry run" in proc.stdout


def test_random_modules_keep_real_buffers(monkeypatch):
    """Released-size random models: parameters are N(0, 0.02) in the asked dtype, buffers keep their real values
    (a zeroed FIR filter or position ids would change what the benchmark computes)."""
    import torch

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from random_models import random_module

    from tryon.backends.pasta_gan.generator import PastaGanGenerator

    reference = PastaGanGenerator()
    module = random_module(PastaGanGenerator, torch.float16)
    params = torch.cat([p.float().flatten() for p in module.parameters()])
    assert {p.dtype for p in module.parameters()} == {torch.float16} and abs(params.std().item() - 0.02) < 1e-3
    assert params.numel() == sum(p.numel() for p in reference.parameters())
    for (name, buffer), (_, expected) in zip(module.named_buffers(), reference.named_buffers(), strict=True):
        if name.endswith("noise_const"):  # drawn at random on construction, by design
            assert buffer.abs().sum() > 0
            continue
        assert torch.equal(buffer.float(), expected.to(buffer.dtype).float()), name
