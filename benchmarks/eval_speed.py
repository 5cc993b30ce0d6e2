"""Scoring three backends' result folders: the seed coursework's way against this project's, in one run.

The seed ran one FID per backend, recomputing the reference (real-image) Inception features each time, and
called LPIPS once per image. This project extracts reference features once per dataset (cached on disk by
file contents, so a later run reuses them), batches LPIPS and Inception, and reads each image once.

Both ways use the same TF-FID Inception weights and FID update batches of the same size, so the ratio measures
the protocol, not the network. The project's way also computes KID, a bootstrap interval and the FID-vs-N
curve; SSIM (which the seed did not compute) is timed in a separate last row. Synthetic images are generated
here (smooth random fields).

    python benchmarks/eval_speed.py [--n 100] [--backends 3] [--size 512x384] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tryon.imaging import load_image, save_image  # noqa: E402

BATCH = 16


def smooth_image(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A low-frequency random colour field with a few blobs: photo-like statistics, no natural content."""
    h, w = size
    base = rng.integers(0, 256, (h // 32, w // 32, 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(base).resize((w, h), Image.BICUBIC)).astype(np.int16)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(4):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(h // 12, h // 4)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] += rng.integers(-60, 60, 3).astype(np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_data(root: Path, n: int, backends: int, size: tuple[int, int]) -> tuple[Path, dict[str, Path]]:
    """A VITON-HD-style folder (image/, cloth/, test_pairs.txt) and one result folder per backend."""
    rng = np.random.default_rng(0)
    dataset = root / "dataset"
    results = {f"backend{b}": root / "results" / f"backend{b}" for b in range(backends)}
    names = []
    for i in range(n):
        name = f"{i:05d}_00"
        names.append(f"{name}.jpg")
        person = smooth_image(rng, size)
        save_image(person, dataset / "image" / f"{name}.jpg")
        save_image(smooth_image(rng, size), dataset / "cloth" / f"{name}.jpg")
        for b, folder in enumerate(results.values()):
            noise = rng.normal(0, 6 + 6 * b, person.shape)
            save_image(np.clip(person + noise, 0, 255).astype(np.uint8), folder / f"{name}.png")
    (dataset / "test_pairs.txt").write_text("".join(f"{n} {n}\n" for n in names))
    return dataset, results


def seed_way(dataset: Path, results: dict[str, Path], device: str) -> dict[str, dict[str, float]]:
    """Per backend: a fresh FID metric fed every reference photo again, and LPIPS called once per image."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    from tryon.metrics import INCEPTION, lpips_model, to_chw

    lpips = lpips_model("alex", device)
    scores = {}
    for name, folder in results.items():
        fid = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(INCEPTION.local()),
                                       antialias=False).to(device)
        people = sorted((dataset / "image").iterdir())
        for real in (True, False):
            files = people if real else [folder / f"{p.stem}.png" for p in people]
            for start in range(0, len(files), BATCH):
                batch = [to_chw(load_image(f)) for f in files[start:start + BATCH]]
                fid.update(torch.stack(batch).to(device), real=real)
        values = []
        with torch.no_grad():
            for person in people:
                a = to_chw(load_image(person))[None].float().to(device) / 127.5 - 1
                b = to_chw(load_image(folder / f"{person.stem}.png"))[None].float()
                values.append(float(lpips(b.to(device) / 127.5 - 1, a)))
        scores[name] = {"fid": float(fid.compute()), "lpips": float(np.mean(values))}
    return scores


def project_way(dataset: Path, results: dict[str, Path], out: Path, device: str,
                ssim: bool) -> dict[str, dict[str, float]]:
    from tryon.evaluate import evaluate

    report = evaluate(dataset, results, out, device=device, progress=False, ssim=ssim)
    assert report is not None
    return {name: {"fid": s["fid"], "lpips": s["lpips_source"]} for name, s in report["backends"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="images per backend (and reference photos)")
    parser.add_argument("--backends", type=int, default=3)
    parser.add_argument("--size", default="512x384", help="HEIGHTxWIDTH")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    from tryon import metrics

    with tempfile.TemporaryDirectory(prefix="eval-speed-") as name:
        root = Path(name)
        os.environ["TRYON_FEATURE_CACHE"] = str(root / "feature-cache")  # starts empty: a cold cache
        dataset, results = make_data(root, args.n, args.backends, size)  # type: ignore[arg-type]
        rows = []
        for label, run in (
            ("seed: FID per backend (reference recomputed), LPIPS per image",
             lambda: seed_way(dataset, results, args.device)),
            ("project, cold cache: FID+KID+LPIPS (reference features once)",
             lambda: project_way(dataset, results, root / "out1", args.device, ssim=False)),
            ("project, reference features cached by the run above",
             lambda: project_way(dataset, results, root / "out2", args.device, ssim=False)),
            ("project, cached, all metrics (+SSIM, not in the seed)",
             lambda: project_way(dataset, results, root / "out3", args.device, ssim=True)),
        ):
            metrics.lpips_model.cache_clear()  # every way pays for building its models
            metrics.inception.cache_clear()
            start, cpu = time.perf_counter(), time.process_time()
            scores = run()
            rows.append((label, time.perf_counter() - start, time.process_time() - cpu, scores))
    print(f"{args.backends} backends x {args.n} images at {size[0]}x{size[1]}, device {args.device}, "
          f"torch threads {torch.get_num_threads()}")
    # CPU time (all threads of this process) is reported too: on a shared machine wall time includes waiting.
    print(f"| {'method':<64} | {'wall s':>7} | {'speed-up':>8} | {'CPU s':>7} | {'speed-up':>8} |")
    print(f"|{'-' * 66}|{'-' * 9}|{'-' * 10}|{'-' * 9}|{'-' * 10}|")
    for label, wall, cpu, _ in rows:
        print(f"| {label:<64} | {wall:>7.1f} | {rows[0][1] / wall:>7.2f}x | {cpu:>7.1f} | {rows[0][2] / cpu:>7.2f}x |")
    print("\nSame numbers every way (FID: torchmetrics, then this project; LPIPS to the source photo):")
    for backend in rows[0][3]:
        fids = " / ".join(f"{r[3][backend]['fid']:.4f}" for r in rows)
        lpips = " / ".join(f"{r[3][backend]['lpips']:.5f}" for r in rows)
        print(f"  {backend}: FID {fids}   LPIPS {lpips}")


if __name__ == "__main__":
    main()
