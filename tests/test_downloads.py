"""Downloads that survive the internet, against a local HTTP server: redirects, Drive's confirmation page, HTML in
place of a binary, a connection cut mid-file, a 404 from the first source. No test touches the real network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.local_http import LocalServer, drive_to_local_fixture, server_fixture  # noqa: F401 - fixtures
from tests.tiny_pasta_gan import make_tiny_pasta_gan_checkpoint
from tryon import download, weights
from tryon.cli import main
from tryon.download import DownloadFailed, drive_download, http_download
from tryon.weight_checks import StructureError
from tryon.weights import Source, WeightFile, WeightGroup

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_a_file_behind_a_redirect(server: LocalServer, tmp_path: Path) -> None:
    server.file("/real/file.bin", PAYLOAD)
    url = server.redirect("/release/file.bin", server.url("/real/file.bin"))
    download.download(url, tmp_path / "file.bin")
    assert (tmp_path / "file.bin").read_bytes() == PAYLOAD and leftovers(tmp_path) == ["file.bin"]


def test_a_connection_cut_mid_file_is_resumed_with_range(server: LocalServer, tmp_path: Path) -> None:
    url = server.cut("/big.bin", PAYLOAD, at=300_000)
    http_download(url, tmp_path / "big.bin.part", backoff=0)
    assert (tmp_path / "big.bin.part").read_bytes() == PAYLOAD
    assert [r[2] for r in server.requests] == [None, "bytes=300000-"]  # the second request only asks for the rest


def test_a_partial_file_from_an_earlier_run_is_resumed(server: LocalServer, tmp_path: Path) -> None:
    url = server.file("/big.bin", PAYLOAD)
    (tmp_path / "big.bin.part").write_bytes(PAYLOAD[:1000])
    http_download(url, tmp_path / "big.bin.part", backoff=0)
    assert (tmp_path / "big.bin.part").read_bytes() == PAYLOAD and server.requests[0][2] == "bytes=1000-"


def test_an_html_page_in_place_of_a_binary_is_refused_and_removed(server: LocalServer, tmp_path: Path) -> None:
    url = server.html("/weights.pth", "<!DOCTYPE html><html><body>Sign in to continue</body></html>")
    with pytest.raises(DownloadFailed, match="an HTML page"):
        download.download(url, tmp_path / "weights.pth")
    assert leftovers(tmp_path) == []


def test_retries_are_spent_then_the_partial_file_is_removed(tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="gave up after 2 retries"):
        http_download("http://127.0.0.1:9/nothing-listens-here", tmp_path / "x.part", retries=2, backoff=0)
    assert leftovers(tmp_path) == []


def test_gdown_gets_past_drives_confirmation_page(drive_to_local: LocalServer, tmp_path: Path) -> None:
    drive_to_local.drive("FILEID", PAYLOAD, "network-snapshot.pkl")
    drive_download("FILEID", tmp_path / "snap.pkl.part")
    assert (tmp_path / "snap.pkl.part").read_bytes() == PAYLOAD
    paths = [r[1].split("?")[0] for r in drive_to_local.requests]
    assert paths == ["/uc", "/download"]  # the page first, then the file its form points at


def _group(*sources: Source | str, check=None) -> WeightGroup:  # noqa: ANN001
    file = WeightFile("blob", "fake/blob.bin", tuple(sources), licence="test", check=check)
    return WeightGroup("fake", "a test group", [file])


def _blob_check(path: Path, layouts: tuple[Path, ...]) -> str:
    if path.read_bytes()[:4] != PAYLOAD[:4]:
        raise StructureError("not the blob")
    return "the blob"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # noqa: ANN201
    def register(group: WeightGroup) -> Path:
        monkeypatch.setitem(weights._GROUP_PATHS, "fake", f"{__name__}:FAKE")
        monkeypatch.setitem(globals(), "FAKE", group)
        return tmp_path / "cache"

    return register


def test_a_404_from_the_first_source_then_the_second_serves(server: LocalServer, fake, tmp_path: Path) -> None:  # noqa: ANN001
    first, second = server.missing("/gone.bin"), server.file("/copy.bin", PAYLOAD)
    root = fake(_group(first, Source(second, mirror=True), check=_blob_check))
    provenance = weights.fetch("fake", root=root)
    assert provenance == {"blob": second}
    entry = weights.read_manifest(root)["blob"]
    assert entry["source"] == second and entry["official"].startswith(first) and entry["check"] == "the blob"
    assert leftovers(root) == ["blob.bin", "manifest.json"]


def test_a_retired_source_is_never_tried(server: LocalServer, fake) -> None:  # noqa: ANN001
    retired = Source(server.file("/old.bin", PAYLOAD), retired="2025-11: deleted by its owner")
    live = Source(server.file("/new.bin", PAYLOAD), mirror=True)
    root = fake(_group(retired, live, check=_blob_check))
    weights.fetch("fake", root=root)
    assert [r[1] for r in server.requests] == ["/new.bin"]
    assert "retired 2025-11" in weights.read_manifest(root)["blob"]["official"]


def test_a_file_that_fails_its_check_is_not_kept_and_the_next_source_is_tried(
        server: LocalServer, fake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    wrong = server.file("/wrong.bin", b"\x00" * 5000)
    root = fake(_group(wrong, check=_blob_check))
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(root))
    assert main(["weights", "fetch", "fake"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "fake/blob.bin" in err and "not the blob" in err and "--from" in err
    assert leftovers(root) == [] and weights.read_manifest(root) == {}
    right = server.file("/right.bin", PAYLOAD)
    fake(_group(wrong, Source(right, mirror=True), check=_blob_check))
    assert weights.fetch("fake", root=root) == {"blob": right}
    assert (root / "fake" / "blob.bin").read_bytes() == PAYLOAD


def test_pasta_gan_from_google_drive_through_the_confirmation_page(drive_to_local: LocalServer, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The real group, end to end: the official Drive id answers 404, the mirror id answers with the confirmation
    page and then the snapshot, which is checked, kept and converted."""
    from tryon.backends.pasta_gan import weights as pasta

    snapshot = make_tiny_pasta_gan_checkpoint(tmp_path / "snap.pkl").read_bytes()
    drive_to_local.drive(pasta.DRIVE_IDS[1], snapshot, pasta.SNAPSHOT)
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "cache"))
    assert main(["weights", "fetch", "pasta-gan++"]) == 0
    manifest = weights.read_manifest(tmp_path / "cache")
    assert pasta.DRIVE_IDS[1] in manifest["snapshot"]["source"] and "G_ema" in manifest["snapshot"]["check"]
    assert manifest["g_ema"]["source"].startswith("converted from") and "G_ema" in manifest["g_ema"]["check"]
    assert [row[1] for row in weights.verify(["pasta-gan++"], sha=True)] == ["ok", "ok", "ok"]
    assert sorted(p.name for p in (tmp_path / "cache" / "pasta-gan++").iterdir()) == [
        "config.json", "g_ema.safetensors", pasta.SNAPSHOT]
    assert json.loads((tmp_path / "cache" / "pasta-gan++" / "config.json").read_text())["init_kwargs"]
