"""Weight files found in the Hugging Face hub cache (a Space build's `preload_from_hub`) are used, not fetched."""

import hashlib

import pytest
from huggingface_hub import constants

from tryon import weights
from tryon.weights import HubLocation, WeightFile, WeightGroup, hub_location

HF = "https://huggingface.co"
BIG = WeightFile("big", "fake/big.bin", (f"{HF}/owner/model/resolve/main/sub/big.bin",))
CONFIG = WeightFile("config", "fake/config.json", (f"{HF}/owner/model/resolve/main/config.json",))
PINNED = WeightFile("pinned", "fake/pinned.bin", (f"{HF}/owner/other/resolve/0123abc/pinned.bin",))
EXTRA = WeightFile("extra", "fake/extra.bin", (f"{HF}/owner/model/resolve/main/extra.bin",))
RELEASE = WeightFile("release", "fake/release.pth", ("https://github.com/o/r/releases/download/w/release.pth",))
GROUP = WeightGroup("fake", "a test group", [BIG, CONFIG, PINNED, EXTRA, RELEASE], optional=("extra",),
                    fetch=lambda root, source: {})


@pytest.fixture
def fake_group(monkeypatch):
    monkeypatch.setitem(weights._GROUP_PATHS, "fake", f"{__name__}:GROUP")


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """A hub cache in the real layout: blobs named by sha256, snapshot symlinks, refs/main -> commit."""
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def put(cache, repo: str, path: str, data: bytes, commit: str = "c0ffee" * 6 + "abcd") -> None:
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    blob = repo_dir / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    link = repo_dir / "snapshots" / commit / path
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(blob)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)


def test_hub_location_of_model_repo_urls_only():
    assert hub_location(BIG) == HubLocation("owner/model", "main", "sub/big.bin")
    assert hub_location(PINNED) == HubLocation("owner/other", "0123abc", "pinned.bin")
    assert hub_location(RELEASE) is None
    space = WeightFile("p", "p.onnx", (f"{HF}/spaces/yisol/IDM-VTON/resolve/main/ckpt/p.onnx",))
    dataset = WeightFile("d", "d.bin", (f"{HF}/datasets/owner/data/resolve/main/d.bin",))
    assert hub_location(space) is None and hub_location(dataset) is None
    # the first Hugging Face model source counts, wherever it stands among the sources
    mirrored = WeightFile("m", "m.bin", ("https://example.com/share", f"{HF}/owner/copy/resolve/main/m/x.bin"))
    assert hub_location(mirrored) == HubLocation("owner/copy", "main", "m/x.bin")


def test_preload_lines_one_per_repo_and_revision(fake_group):
    assert weights.preload_from_hub(["fake"]) == [
        "owner/model config.json,extra.bin,sub/big.bin",  # optional files too; `main` is implied
        "owner/other pinned.bin 0123abc",
    ]


def test_adopt_links_records_and_completes_the_group(fake_group, hub_cache, tmp_path):
    root = tmp_path / "weights"
    put(hub_cache, "owner/model", "sub/big.bin", b"big weights")
    put(hub_cache, "owner/model", "config.json", b"{}")
    put(hub_cache, "owner/other", "pinned.bin", b"pinned", commit="0123abc")
    assert {f.name for f in GROUP.missing(root)} == {"big", "config", "pinned", "release"}

    adopted = weights.adopt_hub_cache(["fake"], root)

    assert adopted == ["big", "config", "pinned"]  # extra.bin is not in the cache; release has no hub source
    assert BIG.local(root).is_symlink() and BIG.local(root).read_bytes() == b"big weights"
    entry = weights.read_manifest(root)["big"]
    assert entry["source"] == "hf-cache://owner/model/sub/big.bin"
    assert entry["sha256"] == hashlib.sha256(b"big weights").hexdigest() and entry["bytes"] == 11
    assert [f.name for f in GROUP.missing(root)] == ["release"]
    assert weights.adopt_hub_cache(["fake"], root) == []  # present files are left alone


def test_fetch_adopts_before_the_group_downloads(fake_group, hub_cache, tmp_path, monkeypatch):
    root = tmp_path / "weights"
    put(hub_cache, "owner/model", "sub/big.bin", b"big weights")
    asked = []
    monkeypatch.setattr(GROUP, "fetch", lambda r, source: asked.append(BIG.present(r)) or {})
    provenance = weights.fetch("fake", root=root)
    assert asked == [True] and provenance == {"big": "hf-cache://owner/model/sub/big.bin"}


def test_fetch_from_a_folder_replaces_the_link_and_leaves_the_hub_cache_intact(fake_group, hub_cache, tmp_path,
                                                                               monkeypatch):
    root = tmp_path / "weights"
    put(hub_cache, "owner/model", "sub/big.bin", b"big weights")
    put(hub_cache, "owner/model", "config.json", b"{}")
    weights.adopt_hub_cache(["fake"], root)

    def copy_big(r, source):  # a --from copy that writes over the destination path, as the groups' fetchers do
        BIG.local(r).write_bytes(b"mine")
        return {"big": f"copied from {source}"}

    monkeypatch.setattr(GROUP, "fetch", copy_big)
    weights.fetch("fake", tmp_path / "mine", root=root)
    blob = hub_cache / "models--owner--model" / "blobs" / hashlib.sha256(b"big weights").hexdigest()
    assert blob.read_bytes() == b"big weights"
    assert not BIG.local(root).is_symlink() and BIG.local(root).read_bytes() == b"mine"
    assert CONFIG.local(root).is_symlink()  # what the folder did not supply is linked again
    assert weights.read_manifest(root)["big"]["source"].startswith("copied from")
