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
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tryon.errors import InputError, WeightsMissing

MANIFEST_NAME = "manifest.json"
HF_CACHE_SCHEME = "hf-cache://"  # manifest provenance of a file linked from the Hugging Face hub cache
log = logging.getLogger(__name__)


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


def record(file: WeightFile, provenance: str, root: Path | None = None, sha256: str | None = None) -> None:
    """Write a file's sha256, size, source and licence into the manifest. A `sha256` already known (the hub
    cache names a blob by it) spares hashing gigabytes again."""
    root = root or cache_dir()
    manifest = read_manifest(root)
    local = file.local(root)
    manifest[file.name] = {
        "path": file.path,
        "sha256": sha256 or sha256_file(local),
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
    """Obtain a group's files into the cache and record them in the manifest.

    Files already in the Hugging Face hub cache (e.g. preloaded by a Space build) are linked first, so they are
    never downloaded again. With `--from`, our links are dropped first so that a copy replaces the link instead of
    writing through it into the hub cache; whatever the copy did not supply is linked again afterwards.
    """
    group = get_group(name)
    root = root or cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    if group.fetch is None:
        raise InputError(f"weights group {name!r} has no fetch step; copy its files into {root}")
    if source is None:
        adopted = _adopt(group, root)
        provenance = group.fetch(root, None)
    else:
        _unlink_adopted(group, root)
        try:
            provenance = group.fetch(root, source)
        finally:
            adopted = _adopt(group, root)
    for file in group.files:
        if file.present(root):
            if file.name in provenance:
                record(file, provenance[file.name], root)
            if file.sha256 and sha256_file(file.local(root)) != file.sha256:
                raise InputError(f"{file.local(root)}: sha256 does not match the manifest entry of {file.name}")
    return {**adopted, **provenance}


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


# -- Hugging Face hub cache ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HubLocation:
    """A file in a Hugging Face model repo: what `hf_hub_download` / `preload_from_hub` name it by."""

    repo_id: str
    revision: str
    path: str


def hub_location(file: WeightFile) -> HubLocation | None:
    """The file's place in a Hugging Face MODEL repo, from its first `https://huggingface.co/{repo}/resolve/
    {revision}/{path}` source. Space and dataset repos (`spaces/...`, `datasets/...`) are skipped: a Space build
    preloads model repos only."""
    for url in file.sources:
        parts = urlsplit(url)
        if parts.netloc != "huggingface.co":
            continue
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if len(segments) < 5 or segments[0] in ("spaces", "datasets") or segments[2] != "resolve":
            continue
        return HubLocation(f"{segments[0]}/{segments[1]}", segments[3], "/".join(segments[4:]))
    return None


def preload_from_hub(names: Iterable[str]) -> list[str]:
    """The Space front matter's `preload_from_hub` lines for these groups (optional files included): one
    `"<repo_id> <path>,<path>,... [<revision>]"` per repo and revision, sorted; `main` is the default revision and
    left out. The Space build downloads them into the hub cache, where `adopt_hub_cache` finds them."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for name in names:
        for file in get_group(name).files:
            where = hub_location(file)
            if where is None:
                continue
            if " " in where.path or "," in where.path:
                raise InputError(f"{file.name}: {where.path!r} cannot be written in a preload_from_hub line")
            wanted.setdefault((where.repo_id, where.revision), set()).add(where.path)
    return [f"{repo} {','.join(sorted(paths))}" + ("" if revision == "main" else f" {revision}")
            for (repo, revision), paths in sorted(wanted.items())]


def adopt_hub_cache(group_names: Iterable[str] | None = None, root: Path | None = None) -> list[str]:
    """Link each missing file that the local Hugging Face hub cache already holds into our cache, record it in the
    manifest as `hf-cache://repo/path`, and return the names adopted. Never touches the network."""
    root = root or cache_dir()
    adopted: list[str] = []
    for name in group_names if group_names is not None else _GROUP_PATHS:
        adopted += _adopt(get_group(name), root)
    return adopted


def _adopt(group: WeightGroup, root: Path) -> dict[str, str]:
    from huggingface_hub import try_to_load_from_cache

    provenance = {}
    for file in group.files:
        where = hub_location(file)
        if where is None or file.present(root):
            continue
        cached = try_to_load_from_cache(where.repo_id, where.path, revision=where.revision)
        if not isinstance(cached, str):  # None: not cached; a sentinel: cached as absent upstream
            continue
        digest = _blob_sha256(Path(cached)) or sha256_file(Path(cached))
        if file.sha256 and digest != file.sha256:
            log.warning("%s in the hub cache has sha256 %s, not %s; not used", cached, digest[:12], file.sha256[:12])
            continue
        _link(Path(cached), file.local(root))
        provenance[file.name] = f"{HF_CACHE_SCHEME}{where.repo_id}/{where.path}"
        record(file, provenance[file.name], root, sha256=digest)
    return provenance


def _blob_sha256(cached: Path) -> str | None:
    """The hub cache stores an LFS file as `blobs/<sha256>` (smaller git files as `blobs/<git sha1>`)."""
    blob = cached.resolve()
    name = blob.name
    is_sha256 = len(name) == 64 and all(c in "0123456789abcdef" for c in name)
    return name if blob.parent.name == "blobs" and is_sha256 else None


def _link(cached: Path, dest: Path) -> None:
    """Symlink (no second copy of gigabytes); copy where the filesystem has no symlinks."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink():  # dangling: the hub cache entry it pointed to is gone
        dest.unlink()
    try:
        dest.symlink_to(cached)
    except OSError:
        shutil.copyfile(cached, dest)


def _unlink_adopted(group: WeightGroup, root: Path) -> None:
    manifest = read_manifest(root)
    for file in group.files:
        local = file.local(root)
        if local.is_symlink() and manifest.get(file.name, {}).get("source", "").startswith(HF_CACHE_SCHEME):
            local.unlink()


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
