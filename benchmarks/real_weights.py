"""For whoever holds the real weight files: per installed backend, the structure check, the load time and one
try-on of the example photos at the backend's official resolution (on the GPU when there is one).

    python benchmarks/real_weights.py                 # the backends whose weights are installed in the cache
    python benchmarks/real_weights.py --steps 50      # the official step counts are the backends' defaults
    python benchmarks/real_weights.py --dry-run       # CI: the tests' tiny weights, imported with `weights fetch
                                                      # --from` into a temporary cache, then the same code paths

"check" is `weights verify` of the backend's group (every installed file, structure only: no weights loaded);
"load" is the backend's `load` (weights from disk into the runtime's device and dtype); "try-on" is one
`generate` of assets/examples (astronaut wearing the red tee) through the app's runner. A backend whose weights
are incomplete is listed as skipped with what is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BACKENDS = ("ladi-vton", "prompt-dresser", "pasta-gan++")
PERSON = ROOT / "assets" / "examples" / "photos" / "person_astronaut.jpg"
GARMENT = ROOT / "assets" / "examples" / "photos" / "garment_red_tee.jpg"


@dataclass
class Row:
    backend: str
    check: str = "-"
    check_s: float | None = None
    load_s: float | None = None
    tryon_s: float | None = None
    mode: str = "-"
    size: str = "-"
    note: str = ""
    failed: bool = False


def install_tiny_weights(cache: Path) -> None:
    """The tests' tiny folders, imported through `weights fetch --from` (structure checks included)."""
    from tests.tiny_ladi_vton import make_tiny_ladi_vton_folder
    from tests.tiny_pasta_gan import make_tiny_pasta_gan_checkpoint
    from tests.tiny_prompt_dresser import make_tiny_prompt_dresser_folder
    from tryon import weights

    with tempfile.TemporaryDirectory(prefix="tiny-weights-") as name:
        work = Path(name)
        weights.fetch("ladi-vton", make_tiny_ladi_vton_folder(work / "ladi-vton"), root=cache)
        weights.fetch("prompt-dresser", make_tiny_prompt_dresser_folder(work / "prompt-dresser"), root=cache)
        weights.fetch("pasta-gan++", make_tiny_pasta_gan_checkpoint(work / "network-snapshot-004408.pkl"),
                      root=cache)


def measure(name: str, steps: int | None) -> Row:
    from tryon import weights
    from tryon.backends.base import get_backend, run_one
    from tryon.preprocess import prepare_sample
    from tryon.runtime import default_runtime

    row = Row(name)
    backend = get_backend(name)
    status = backend.status()
    if not status.ready:
        row.note = f"skipped: {status.message}"
        return row
    start = time.perf_counter()
    results = weights.verify([name])
    row.check_s = time.perf_counter() - start
    bad = [f"{file}: {detail}" for file, state, detail in results if state == "bad"]
    row.check = f"{sum(state == 'ok' for _, state, _ in results)} ok" + (f", {len(bad)} bad" if bad else "")
    if bad:
        row.note, row.failed = bad[0], True
        return row
    runtime = backend.plan(default_runtime())
    start = time.perf_counter()
    backend.load(runtime)
    row.load_s = time.perf_counter() - start
    sample = prepare_sample(PERSON, GARMENT, "upper", name="astronaut")
    result = run_one(backend, sample, {"steps": steps}, runtime)
    if result.error:
        row.note, row.failed = f"try-on failed: {result.error}", True
    else:
        row.tryon_s, row.mode = result.seconds, result.options.get("mode", "-")
        row.size = "x".join(map(str, result.image.shape[:2]))
    backend.unload()
    return row


def table(rows: list[Row]) -> str:
    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [f"{'backend':<15} {'check':<10} {'check s':>8} {'load s':>8} {'try-on s':>9}  {'output':<9} mode / note",
             "-" * 92]
    for r in rows:
        lines.append(f"{r.backend:<15} {r.check:<10} {secs(r.check_s):>8} {secs(r.load_s):>8} {secs(r.tryon_s):>9}  "
                     f"{r.size:<9} {r.note or r.mode}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--steps", type=int, help="denoising steps (default: each backend's official count)")
    parser.add_argument("--dry-run", action="store_true", help="tiny weights in a temporary cache (CPU, seconds)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="tryon-real-weights-") as tmp:
        if args.dry_run:
            os.environ["TRYON_WEIGHTS_DIR"] = tmp
            install_tiny_weights(Path(tmp))
        rows = [measure(name, 2 if args.dry_run and args.steps is None else args.steps) for name in names]
    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"real weights{' (dry run: tiny weights)' if args.dry_run else ''} on {device}")
    print(table(rows))
    return 1 if any(r.failed for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
