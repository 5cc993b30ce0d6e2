"""The `pasta-gan++` weight group: the official snapshot pickle and its one-time safetensors conversion.

The release is a StyleGAN2-ADA training snapshot on Google Drive (the README link; a second copy is the one the
hama-jsoh fork uses). Google Drive serves big files behind a confirmation page, so a scripted download may fail:
then download it in a browser and run
`python -m tryon weights fetch pasta-gan++ --from PATH/TO/network-snapshot-004408.pkl` (a folder holding that
file works too). Fetching converts G_ema once to `g_ema.safetensors` + `config.json` with
the restricted unpickler of `checkpoint.py`; the pickle's embedded source is never executed.
Licence: no licence file; NVIDIA StyleGAN2-ADA terms and the authors' non-commercial research-only statement.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tryon.backends.pasta_gan.checkpoint import CONFIG_FILE, STATE_FILE, convert
from tryon.errors import InputError
from tryon.weights import WeightFile, WeightGroup, download

FOLDER = "pasta-gan++"
SNAPSHOT = "network-snapshot-004408.pkl"
DRIVE_IDS = ("1oESyGm1Zcz2lWUO6AvKlj-pXWtvIRGZd", "1k5QTVzd1B67--Y7WGejbRVA1Cgg6Wy2P")
LICENCE = "non-commercial research only (no licence file; NVIDIA StyleGAN2-ADA terms)"

FILES = [
    WeightFile("snapshot", f"{FOLDER}/{SNAPSHOT}",
               tuple(f"https://drive.google.com/uc?export=download&id={i}" for i in DRIVE_IDS), licence=LICENCE,
               note="official training snapshot (G, D, G_ema); only G_ema is used"),
    WeightFile("g_ema", f"{FOLDER}/{STATE_FILE}", licence=LICENCE, size_mb=177,
               note="G_ema converted from the snapshot (float32 safetensors)"),
    WeightFile("config", f"{FOLDER}/{CONFIG_FILE}", licence=LICENCE, note="G_ema constructor kwargs"),
]


def _local_snapshot(source: Path) -> Path:
    candidate = source / SNAPSHOT if source.is_dir() else source
    if not candidate.is_file():
        raise InputError(f"{source}: no {SNAPSHOT} there")
    return candidate


def fetch(root: Path, source: Path | None) -> dict[str, str]:
    """Copy (`--from`) or download the snapshot, then convert G_ema to safetensors next to it."""
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = folder / SNAPSHOT
    provenance: dict[str, str] = {}
    if source is not None:
        origin = _local_snapshot(Path(source))
        if origin.resolve() != snapshot.resolve():
            shutil.copyfile(origin, snapshot)
        provenance["snapshot"] = f"copied from {origin}"
    elif not snapshot.is_file():
        errors = []
        for url in FILES[0].sources:
            try:
                download(url, snapshot, timeout=120)
                provenance["snapshot"] = url
                break
            except InputError as exc:
                errors.append(str(exc))
        else:
            raise InputError(f"could not download {SNAPSHOT} from Google Drive; download it in a browser and run "
                             f"python -m tryon weights fetch {FOLDER} --from PATH ({errors[-1]})")
    convert(snapshot, folder)
    provenance["g_ema"] = provenance["config"] = f"converted from {snapshot.name} (G_ema, restricted unpickler)"
    return provenance


GROUP = WeightGroup(
    name="pasta-gan++",
    description="PASTA-GAN++ (official network-snapshot-004408.pkl, G_ema)",
    files=FILES,
    fetch=fetch,
    optional=("snapshot",),
)
