"""`weights fetch`: what users hold (`--from` a file, our layout, a hub snapshot, a local_dir, the official
OneDrive folder), variants, hub downloads from live repos only, and all-or-nothing imports."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants

from tests.tiny_weight_folders import tiny_ladi_fixture, tiny_pd_fixture  # noqa: F401 - fixtures
from tryon import weights, weights_fetch
from tryon.backends.ladi_vton import weights as ladi
from tryon.cli import main

COMMIT = "c0ffee" * 6 + "abcd"
SD2_PARTS = ("vae/config.json", "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json",
             "text_encoder/model.safetensors", "scheduler/scheduler_config.json")


def release_only(tiny_ladi: Path, dest: Path, variants: tuple[str, ...] = ("vitonhd",)) -> Path:
    """The release files with the folder's config (the GitHub release, at the tiny size), and the CLIP config
    that fixes the inversion adapter's width."""
    for variant in variants:
        shutil.copytree(tiny_ladi / variant, dest / variant)
    shutil.copy(tiny_ladi / "ladi_vton_config.json", dest / "ladi_vton_config.json")
    (dest / ladi.CLIP_DIR).mkdir()
    shutil.copy(tiny_ladi / ladi.CLIP_DIR / "config.json", dest / ladi.CLIP_DIR / "config.json")
    return dest


def hub_cache_repo(cache: Path, repo: str, files: dict[str, Path], commit: str = COMMIT) -> Path:
    """A repo in the real hub-cache layout: blobs named by sha256, snapshot symlinks, refs/main."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    for relative, source in files.items():
        data = source.read_bytes()
        blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = folder / "snapshots" / commit / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(blob)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    return folder


def test_from_a_folder_in_our_layout_imports_and_verifies(tiny_ladi: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "cache"))
    assert main(["weights", "fetch", "ladi-vton", "--from", str(tiny_ladi)]) == 0
    manifest = weights.read_manifest(tmp_path / "cache")
    assert len(manifest) == 15 and all(e["source"].startswith("copied from") for e in manifest.values())
    assert manifest["vitonhd/unet_vitonhd.pth"]["check"].endswith("as in the LaDI-VTON vitonhd unet (float32)")
    assert (tmp_path / "cache" / "ladi-vton" / "ladi_vton_config.json").is_file()  # the companion came along
    rows = weights.verify(["ladi-vton"], sha=True)
    assert {status for _, status, _ in rows} == {"ok", "missing"}
    assert {name for name, status, _ in rows if status == "missing"} == {
        f"ladi-vton/{ladi.SD2_DIR}/{p}" for p in ladi.SD2_OPTIONAL}
    assert main(["weights", "verify", "ladi-vton"]) == 0


def test_from_with_a_variant_imports_only_that_variant(tiny_ladi: Path, tmp_path: Path) -> None:
    provenance = weights.fetch("ladi-vton", tiny_ladi, root=tmp_path, variant="dresscode")
    assert not any(name.startswith("vitonhd/") for name in provenance)
    assert sum(name.startswith("dresscode/") for name in provenance) == 4


def test_a_bad_file_in_the_folder_imports_nothing(tiny_ladi: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src"
    shutil.copytree(tiny_ladi, source)
    (source / "dresscode" / "emasc_dresscode.pth").write_bytes(b"\x00" * 100)
    root = tmp_path / "cache"
    root.mkdir()
    (root / "manifest.json").write_text("{}")
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(root))
    assert main(["weights", "fetch", "ladi-vton", "--from", str(source), "--variant", "all"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "emasc_dresscode.pth" in err and "nothing was imported" in err
    assert sorted(p.name for p in root.rglob("*")) == ["manifest.json"] and weights.read_manifest(root) == {}


def test_from_a_hub_cache_snapshot_records_the_commit(tiny_ladi: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    weights.fetch("ladi-vton", release_only(tiny_ladi, tmp_path / "release"), root=root)
    hub = tmp_path / "hub"
    hub_cache_repo(hub, ladi.SD2_MIRROR, {p: tiny_ladi / ladi.SD2_DIR / p for p in SD2_PARTS})
    hub_cache_repo(hub, ladi.CLIP_VIT_H, {p: tiny_ladi / ladi.CLIP_DIR / p for p in ladi.CLIP_FILES}, "1" * 40)
    provenance = weights.fetch("ladi-vton", hub, root=root)
    assert len(provenance) == 7  # --from imports all it finds, the CLIP config again too
    manifest = weights.read_manifest(root)
    assert manifest[f"{ladi.SD2_DIR}/vae/config.json"]["commit"] == COMMIT
    assert manifest[f"{ladi.CLIP_DIR}/model.safetensors"]["commit"] == "1" * 40
    assert "retired 2025-11" in manifest[f"{ladi.SD2_DIR}/vae/config.json"]["official"]
    # a snapshot of the retired official repo is the same file: accepted too
    old = tmp_path / "old-hub"
    repo = hub_cache_repo(old, "stabilityai/stable-diffusion-2-inpainting", {
        "text_encoder/config.json": tiny_ladi / ladi.SD2_DIR / "text_encoder" / "config.json"})
    assert list(weights.fetch("ladi-vton", repo / "snapshots" / COMMIT, root=root)) == [
        f"{ladi.SD2_DIR}/text_encoder/config.json"]


def test_from_a_local_dir_download(tiny_ladi: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    weights.fetch("ladi-vton", release_only(tiny_ladi, tmp_path / "release"), root=root)
    local = tmp_path / "sd2"
    for part in SD2_PARTS:
        (local / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_ladi / ladi.SD2_DIR / part, local / part)
        meta = local / ".cache" / "huggingface" / "download" / f"{part}.metadata"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(f"{COMMIT}\netag\n1700000000.0\n")
    provenance = weights.fetch("ladi-vton", local, root=root)
    assert sorted(provenance) == sorted(f"{ladi.SD2_DIR}/{p}" for p in SD2_PARTS)
    assert weights.read_manifest(root)[f"{ladi.SD2_DIR}/vae/diffusion_pytorch_model.safetensors"]["commit"] == COMMIT


def test_prompt_dresser_from_the_official_onedrive_folder(tiny_pd: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    without_unet = tmp_path / "hub-parts"
    shutil.copytree(tiny_pd, without_unet, ignore=shutil.ignore_patterns("pytorch_model.bin"))
    weights.fetch("prompt-dresser", without_unet, root=root)
    onedrive = tmp_path / "download" / "checkpoints" / "VITONHD" / "model"
    onedrive.mkdir(parents=True)
    shutil.copy(tiny_pd / "unet" / "pytorch_model.bin", onedrive / "pytorch_model.bin")
    assert list(weights.fetch("prompt-dresser", tmp_path / "download", root=root)) == ["unet"]
    assert weights.get_group("prompt-dresser").missing(root) == []
    assert (root / "prompt-dresser" / "pipeline.json").is_file()


def test_one_path_claimed_by_two_files_goes_where_it_fits(tiny_pd: Path, tmp_path: Path) -> None:
    """A local_dir of SDXL base holds `unet/config.json` (4 input channels): the hub path of both PromptDresser's
    try-on UNet config (the inpainting repo) and the garment UNet's (the base repo). It is the garment one."""
    base = tmp_path / "sdxl-base"
    (base / "unet").mkdir(parents=True)
    shutil.copy(tiny_pd / "garment_unet" / "config.json", base / "unet" / "config.json")
    assert list(weights.fetch("prompt-dresser", base, root=tmp_path / "cache")) == ["garment_unet_config"]


def test_a_single_file_with_an_ambiguous_name_is_refused(tiny_pd: Path, tmp_path: Path) -> None:
    with pytest.raises(weights.InputError, match="ambiguous"):
        weights.fetch("prompt-dresser", tiny_pd / "vae" / "config.json", root=tmp_path)
    with pytest.raises(weights.InputError, match="not a file of the ladi-vton group"):
        weights.fetch("ladi-vton", tiny_pd / "unet" / "pytorch_model.bin", root=tmp_path)


def test_hub_downloads_use_the_live_mirror_and_record_its_commit(tiny_ladi: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """No `--from`: the release files are in place, the hub parts are "downloaded" (into a hub cache in the real
    layout); the retired official SD2 repo is never asked for, the dresscode variant is not fetched."""
    root = tmp_path / "cache"
    weights.fetch("ladi-vton", release_only(tiny_ladi, tmp_path / "release"), root=root)
    hub = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    asked = []

    def fake_hub_download(repo_id: str, path: str, revision: str) -> Path:
        asked.append(repo_id)
        folder = ladi.SD2_DIR if repo_id == ladi.SD2_MIRROR else ladi.CLIP_DIR
        source = tiny_ladi / folder / path
        if not source.is_file():
            raise weights_fetch.DownloadFailed(f"404 {repo_id}/{path}")
        hub_cache_repo(hub, repo_id, {path: source})
        return hub / f"models--{repo_id.replace('/', '--')}" / "snapshots" / COMMIT / path

    monkeypatch.setattr(weights_fetch, "hub_download", fake_hub_download)
    provenance = weights.fetch("ladi-vton", root=root)
    assert set(asked) == {ladi.SD2_MIRROR, ladi.CLIP_VIT_H}
    assert len(provenance) == 6 and all(p.startswith("https://huggingface.co/") for p in provenance.values())
    entry = weights.read_manifest(root)[f"{ladi.SD2_DIR}/text_encoder/model.safetensors"]
    assert entry["commit"] == COMMIT and ladi.SD2_MIRROR in entry["source"]
    assert (root / ladi.FOLDER / ladi.SD2_DIR / "vae" / "config.json").is_symlink()
    assert not (root / ladi.FOLDER / "dresscode").exists()
    assert weights.get_group("ladi-vton").pending("vitonhd", root)[0] == []
    assert len(weights.get_group("ladi-vton").pending("all", root)[0]) == 4


def test_list_shows_sizes_and_what_is_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path))
    assert main(["weights", "list", "ladi-vton", "pasta-gan++"]) == 0
    out = capsys.readouterr().out
    assert "ladi-vton/vitonhd/unet_vitonhd.pth\tmissing [vitonhd]\t3.5 GB" in out
    assert "ladi-vton: to download: 11 files, 9.8 GB (--variant vitonhd); 15 files, 14.0 GB (--variant all)" in out
    assert "pasta-gan++: to download: 1 file of unknown size" in out
    assert main(["weights", "fetch", "ladi-vton", "--variant", "street"]) == 2
    assert "no variant 'street'" in capsys.readouterr().err


def test_from_a_missing_path_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "cache"))
    assert main(["weights", "fetch", "preprocess", "--from", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope'}: no such file or folder"
    (tmp_path / "empty").mkdir()
    torch.save({}, tmp_path / "empty" / "unrelated.pth")
    assert main(["weights", "fetch", "preprocess", "--from", str(tmp_path / "empty")]) == 2
    assert "no file of the preprocess group there" in capsys.readouterr().err
    assert json.loads(json.dumps(weights.read_manifest(tmp_path / "cache"))) == {}


def test_settings_rows_say_per_group_what_is_missing_its_size_and_the_command(tiny_ladi: Path,
                                                                               tmp_path: Path) -> None:
    rows = {row[0]: row for row in weights.status_rows(tmp_path)}
    assert rows["ladi-vton"][1].startswith("11 missing: vitonhd/unet_vitonhd.pth")
    assert rows["ladi-vton"][2:] == ["9.8 GB", "python -m tryon weights fetch ladi-vton --variant vitonhd"]
    weights.fetch("ladi-vton", tiny_ladi, root=tmp_path, variant="vitonhd")
    assert weights.status_rows(tmp_path)[0] == ["ladi-vton", "complete", "-", "-"]


def test_the_clip_vocabulary_comes_from_installed_hub_tokenizer_files(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With a hub `tokenizer/` folder in the cache, tokenizing needs no open_clip_torch (the Space case)."""
    import importlib.util

    from tryon import clip_tokenizer

    clip_tokenizer._vocab_files.cache_clear()
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "empty"))
    reference = clip_tokenizer.clip_tokenizer(pad_token="!")("a photo of a $ t-shirt", padding="max_length")
    vocab, merges = clip_tokenizer._vocab_files()
    folder = tmp_path / "cache" / "ladi-vton" / ladi.SD2_DIR / "tokenizer"
    folder.mkdir(parents=True)
    shutil.copy(vocab, folder / "vocab.json")
    shutil.copy(merges, folder / "merges.txt")
    for name in ("vocab.json", "merges.txt"):
        assert clip_tokenizer.tokenizer_file_check(name)(folder / name, ())
    clip_tokenizer._vocab_files.cache_clear()
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "cache"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "open_clip" else
                        real_find_spec(name, *a))
    try:
        assert clip_tokenizer._vocab_files() == (str(folder / "vocab.json"), str(folder / "merges.txt"))
        tokens = clip_tokenizer.clip_tokenizer(pad_token="!")("a photo of a $ t-shirt", padding="max_length")
        assert tokens["input_ids"] == reference["input_ids"]
        clip_tokenizer._vocab_files.cache_clear()
        monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "empty"))
        with pytest.raises(weights.InputError, match="needs a hub tokenizer folder"):
            clip_tokenizer._vocab_files()
    finally:
        clip_tokenizer._vocab_files.cache_clear()


def test_from_a_snapshot_of_your_own_repo_in_our_layout(tiny_ladi: Path, tmp_path: Path) -> None:
    """deploy.md's recipe: the release files uploaded to a private model repo, preloaded, imported from the cache."""
    files = {f"vitonhd/{p.name}": p for p in (tiny_ladi / "vitonhd").iterdir()}
    files["ladi_vton_config.json"] = tiny_ladi / "ladi_vton_config.json"
    files[f"{ladi.CLIP_DIR}/config.json"] = tiny_ladi / ladi.CLIP_DIR / "config.json"
    repo = hub_cache_repo(tmp_path / "hub", "you/ladi-release", files)
    provenance = weights.fetch("ladi-vton", repo, root=tmp_path / "cache")
    assert sum(name.startswith("vitonhd/") for name in provenance) == 4
    assert weights.read_manifest(tmp_path / "cache")["vitonhd/unet_vitonhd.pth"]["commit"] == COMMIT
