"""Preprocessing time per estimator on the CPU, printed as a table.

Embedded estimators run on the example photos. The full-quality ones run at their real size with random
weights (no weights can be downloaded here): the OpenPose body network with its standard 4-scale search, and
a stand-in for the SCHP parsers -- a random DeepLabV3-ResNet-101 exported to ONNX (~234 MB, close to SCHP's
ResNet-101 + PSP/edge/fusion heads at ~267 MB) at SCHP's input sizes. Random weights give the same compute, not
the same keypoints, so the OpenPose timing covers the network and the map decoding but not a realistic
assembly (which is milliseconds).

    python -m benchmarks.preprocess_speed [--threads N] [--scales 0.5 1 1.5 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from tryon.imaging import limit_size, load_image
from tryon.preprocess.openpose import BodyPoseNet, assemble_people, find_peaks, network_maps
from tryon.preprocess.parsing import ApproximateParser
from tryon.preprocess.pose import MediaPipePose
from tryon.preprocess.schp import ATR_SIZE, LIP_SIZE, SCHPNet, SCHPParser

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "examples" / "photos"


def timed(fn, repeats: int = 3) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def schp_sized_onnx(folder: Path, labels: int) -> Path:
    """A random ResNet-101 segmentation net exported to ONNX with dynamic height and width."""
    import torchvision

    net = torchvision.models.segmentation.deeplabv3_resnet101(weights=None, weights_backbone=None,
                                                              num_classes=labels).eval()

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)["out"]

    path = folder / f"schp_like_{labels}.onnx"
    torch.onnx.export(Logits(), torch.zeros(1, 3, 64, 64), path, input_names=["input.1"], dynamo=False,
                      opset_version=17, dynamic_axes={"input.1": {2: "h", 3: "w"}})
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--scales", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    pose, approximate = MediaPipePose(), ApproximateParser()
    for photo in sorted(PHOTOS.glob("person_*.jpg")):
        image = limit_size(load_image(photo))
        result = pose(image)
        size = f"{image.shape[1]}x{image.shape[0]}"
        rows.append(("mediapipe pose + silhouette", photo.name, size, timed(lambda image=image: pose(image))))
        rows.append(("approximate parse", photo.name, size,
                     timed(lambda image=image, r=result: approximate(image, r.keypoints, r.person_mask))))
    image = limit_size(load_image(sorted(PHOTOS.glob("person_*.jpg"))[0]))
    size = f"{image.shape[1]}x{image.shape[0]}"
    net = BodyPoseNet().eval()

    def openpose() -> None:
        heat, paf = network_maps(net, image, tuple(args.scales))
        assemble_people(find_peaks(heat), paf, image.shape[0])

    scales = "/".join(f"{s:g}" for s in args.scales)
    rows.append((f"openpose body, random weights, scales {scales}", "", size, timed(openpose, repeats=1)))
    with tempfile.TemporaryDirectory() as tmp:
        atr = SCHPNet(schp_sized_onnx(Path(tmp), 18), ATR_SIZE, 18)
        lip = SCHPNet(schp_sized_onnx(Path(tmp), 20), LIP_SIZE, 20)
        schp = SCHPParser(atr, lip)
        rows.append(("SCHP-sized ATR 512 (ResNet-101 ONNX, random)", "", size, timed(lambda: atr(image))))
        rows.append(("SCHP-sized LIP 473 (ResNet-101 ONNX, random)", "", size, timed(lambda: lip(image))))
        rows.append(("SCHP-sized ATR + LIP + merge", "", size, timed(lambda: schp(image, None, None))))
    print(f"CPU, {args.threads} torch threads, onnxruntime CPUExecutionProvider\n")
    print(f"| {'estimator':<50} | {'photo':<22} | {'size':<9} | {'s / image':>9} |")
    print(f"|{'-' * 52}|{'-' * 24}|{'-' * 11}|{'-' * 11}|")
    for name, photo, size, seconds in rows:
        print(f"| {name:<50} | {photo:<22} | {size:<9} | {seconds:>9.3f} |")


if __name__ == "__main__":
    main()
