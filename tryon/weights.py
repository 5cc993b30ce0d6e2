"""Every weight file the workbench can use: where it comes from, where it lives, and whether it is intact.

Weights live in one cache folder (`TRYON_WEIGHTS_DIR`, default `~/.cache/tryon`) with a `manifest.json`
recording, per file, its source, sha256, licence and size. Groups of files (`metrics`, `ladi-vton`, ...) are
declared next to the code that uses them and registered here by import path, so this module stays free of
model code. Loading never touches the network: a missing file is reported with the command that fetches it;
only `python -m tryon weights fetch GROUP` downloads (or imports from a local folder with `--from`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tryon.errors import InputError, WeightsMissing

MANIFEST_NAME = "manifest.json"


def cache_dir() -> Path:
    """The weights folder; created on demand."""
    root = Path(os.environ.get("TRYON_WEIGHTS_DIR") or Path.home() / ".cache" / "tryon").expanduser()
    return root


@dataclass(frozen=True)
class WeightFile:
    """One file in the cache. `path` is relative to the cache folder; `sources` lists official first."""

    name: str
    path: str
    sources: tuple[str, ...] = ()
    sha256: str | None = None
    licence: str = ""
    size_mb: float | None = None
    note: str = ""

    def local(self, root: Path | None = None) -> Path:
        return (root or cache_dir()) / self.path

    def present(self, root: Path | None = None) -> bool:
        return self.local(root).is_file()


@dataclass
class WeightGroup:
    """Files that one backend or feature needs, and how to obtain them.

    `fetch(root, source)` obtains the files into `root`; `source` is an optional local folder or file the
    user already has (then nothing is downloaded). It returns {file name: provenance text}.
    """

    name: str
    description: str
    files: list[WeightFile]
    fetch: Callable[[Path, Path | None], dict[str, str]] | None = None
    optional: tuple[str, ...] = field(default_factory=tuple)

    @property
    def command(self) -> str:
        return f"python -m tryon weights fetch {self.name}"

    def missing(self, root: Path | None = None) -> list[WeightFile]:
        return [f for f in self.files if f.name not in self.optional and not f.present(root)]

    def require(self, root: Path | None = None) -> None:
        """Raise WeightsMissing naming the first missing files and the fetch command."""
        missing = self.missing(root)
        if missing:
            names = ", ".join(f.path for f in missing[:4]) + (" ..." if len(missing) > 4 else "")
            raise WeightsMissing(f"{self.description}: missing {names} in {root or cache_dir()} (run: {self.command})")


# Group name -> "module:attribute" of a WeightGroup; imported lazily so that listing weights never imports
# model code that is not needed.
_GROUP_PATHS: dict[str, str] = {}


def register_group(name: str, path: str) -> None:
    _GROUP_PATHS[name] = path


def group_names() -> list[str]:
    return list(_GROUP_PATHS)


def get_group(name: str) -> WeightGroup:
    if name not in _GROUP_PATHS:
        raise InputError(f"unknown weights group {name!r}: choose from {', '.join(_GROUP_PATHS) or 'none'}")
    module_name, _, attr = _GROUP_PATHS[name].partition(":")
    group = getattr(importlib.import_module(module_name), attr)
    return group() if callable(group) and not isinstance(group, WeightGroup) else group


# -- manifest ------------------------------------------------------------------------------------------------
def read_manifest(root: Path | None = None) -> dict[str, dict]:
    path = (root or cache_dir()) / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg}); delete it and fetch again") from exc


def record(file: WeightFile, provenance: str, root: Path | None = None) -> None:
    """Write a file's sha256, size, source and licence into the manifest."""
    root = root or cache_dir()
    manifest = read_manifest(root)
    local = file.local(root)
    manifest[file.name] = {
        "path": file.path,
        "sha256": sha256_file(local),
        "bytes": local.stat().st_size,
        "source": provenance,
        "licence": file.licence,
    }
    (root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(name: str, source: Path | None = None, root: Path | None = None) -> dict[str, str]:
    """Obtain a group's files into the cache and record them in the manifest."""
    group = get_group(name)
    root = root or cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    if group.fetch is None:
        raise InputError(f"weights group {name!r} has no fetch step; copy its files into {root}")
    provenance = group.fetch(root, source)
    for file in group.files:
        if file.present(root):
            if file.name in provenance:
                record(file, provenance[file.name], root)
            if file.sha256 and sha256_file(file.local(root)) != file.sha256:
                raise InputError(f"{file.local(root)}: sha256 does not match the manifest entry of {file.name}")
    return provenance


def verify(names: Iterable[str] | None = None, root: Path | None = None) -> list[tuple[str, str, str]]:
    """(file, status, detail) for every file of the given groups: ok / missing / changed."""
    root = root or cache_dir()
    manifest = read_manifest(root)
    rows = []
    for group_name in names or group_names():
        for file in get_group(group_name).files:
            local = file.local(root)
            if not local.is_file():
                rows.append((file.name, "missing", str(local)))
                continue
            expected = file.sha256 or manifest.get(file.name, {}).get("sha256")
            actual = sha256_file(local)
            if expected and actual != expected:
                rows.append((file.name, "changed", f"sha256 {actual[:12]} != {expected[:12]}"))
            else:
                rows.append((file.name, "ok", str(local)))
    return rows


def download(url: str, dest: Path, timeout: float = 30.0) -> None:
    """Download to `dest` atomically (a partial file never takes the final name)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - URLs from the manifest
            with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
                shutil.copyfileobj(response, tmp)
        os.replace(tmp.name, dest)
    except OSError as exc:
        raise InputError(f"could not download {url}: {exc}. Copy the file in with --from PATH instead") from exc


# Weight groups, declared next to the code that uses them.
register_group("ladi-vton", "tryon.backends.ladi_vton.weights:GROUP")
register_group("prompt-dresser", "tryon.backends.prompt_dresser.weights:GROUP")
register_group("pasta-gan++", "tryon.backends.pasta_gan.weights:GROUP")
register_group("preprocess", "tryon.preprocess.weights:GROUP")
register_group("metrics", "tryon.metrics_weights:GROUP")
