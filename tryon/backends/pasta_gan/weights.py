"""The `pasta-gan++` weight group: the official snapshot pickle and its one-time safetensors conversion.

The release is a StyleGAN2-ADA training snapshot on Google Drive (the README link; a second copy is the one the
hama-jsoh fork uses). Drive answers a file this size with a "can't scan this file for viruses" confirmation
page; gdown answers it. If Drive still refuses (quota), download it in a browser and run
`python -m tryon weights fetch pasta-gan++ --from PATH/TO/network-snapshot-004408.pkl` (a folder holding that
file works too). The snapshot is checked by a dry run of the restricted unpickler (tensors rebuilt on the meta
device, never loaded): G_ema's keys and shapes must be those of the generator its own `_init_kwargs` build.
Fetching then converts G_ema once to `g_ema.safetensors` + `config.json` with the restricted unpickler of
`checkpoint.py`; the pickle's embedded source is never executed.
Licence: no licence file; NVIDIA StyleGAN2-ADA terms and the authors' non-commercial research-only statement.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tryon.backends.pasta_gan import checkpoint
from tryon.backends.pasta_gan.checkpoint import CONFIG_FILE, STATE_FILE
from tryon.errors import InputError
from tryon.weight_checks import StructureError, compare, fields_check, foreign, module_check, module_shapes
from tryon.weights import Installed, Source, WeightFile, WeightGroup, entry, write_manifest

FOLDER = "pasta-gan++"
SNAPSHOT = "network-snapshot-004408.pkl"
DRIVE_IDS = ("1oESyGm1Zcz2lWUO6AvKlj-pXWtvIRGZd", "1k5QTVzd1B67--Y7WGejbRVA1Cgg6Wy2P")
LICENCE = "non-commercial research only (no licence file; NVIDIA StyleGAN2-ADA terms)"


def _generator(kwargs: dict[str, Any]) -> Any:
    from tryon.backends.pasta_gan.generator import GeneratorConfig, PastaGanGenerator

    return PastaGanGenerator(GeneratorConfig.from_kwargs(kwargs))


def check_snapshot(path: Path, layouts: tuple[Path, ...]) -> str:
    """Dry run of the restricted unpickler; G_ema against the generator its `_init_kwargs` describe."""
    import torch

    foreign(path, ("pickle",))
    try:
        state, kwargs = checkpoint.read_generator(path, unpickler=checkpoint.ShapeOnlyUnpickler)
    except InputError as exc:  # a pickle, but not a StyleGAN2-ADA snapshot with G_ema
        raise StructureError(str(exc).removeprefix(f"{path}: ")) from exc
    found = {k: tuple(v.shape) for k, v in state.items() if not checkpoint.is_fir_copy(k)}
    with torch.device("meta"):
        expected = module_shapes(_generator(kwargs))
    return compare(found, expected, "PASTA-GAN++ G_ema")


def _converted_generator(path: Path, layouts: tuple[Path, ...]) -> Any:
    return _generator(json.loads((path.parent / CONFIG_FILE).read_text())["init_kwargs"])


FILES = [
    WeightFile("snapshot", f"{FOLDER}/{SNAPSHOT}",
               (Source(f"https://drive.google.com/uc?export=download&id={DRIVE_IDS[0]}"),
                Source(f"https://drive.google.com/uc?export=download&id={DRIVE_IDS[1]}", mirror=True)),
               licence=LICENCE, check=check_snapshot,
               note="official training snapshot (G, D, G_ema); only G_ema is used; size not published"),
    WeightFile("g_ema", f"{FOLDER}/{STATE_FILE}", licence=LICENCE, size_mb=177, derived_from="snapshot",
               check=module_check(_converted_generator, "PASTA-GAN++ G_ema",
                                  rename=lambda k: None if checkpoint.is_fir_copy(k) else k),
               note="G_ema converted from the snapshot (float32 safetensors)"),
    WeightFile("config", f"{FOLDER}/{CONFIG_FILE}", licence=LICENCE, size_mb=0.01, derived_from="snapshot",
               check=fields_check({"class_name": None, "init_kwargs": None}, "G_ema constructor kwargs"),
               note="G_ema constructor kwargs"),
]


def derive(root: Path) -> dict[str, str]:
    """Convert G_ema next to the snapshot: written in a temporary folder, checked, then moved into place."""
    folder = root / FOLDER
    snapshot = folder / SNAPSHOT
    provenance = f"converted from {SNAPSHOT} (G_ema, restricted unpickler)"
    work = Path(tempfile.mkdtemp(prefix=".convert-", dir=folder))
    try:
        checkpoint.convert(snapshot, work)
        summaries = {f.name: f.run_check(work / Path(f.path).name, ()) for f in FILES[1:]}
        for file in FILES[1:]:  # the state first: a config never describes a state that is not there
            os.replace(work / Path(file.path).name, file.local(root))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_manifest(root, {f.name: entry(f, Installed(provenance, None, summaries[f.name]), root) for f in FILES[1:]})
    return {f.name: provenance for f in FILES[1:]}


GROUP = WeightGroup(
    name="pasta-gan++",
    description="PASTA-GAN++ (official network-snapshot-004408.pkl, G_ema)",
    files=FILES,
    optional=("snapshot",),
    derive=derive,
)
