"""Structure checks on tiny real-architecture files: the right file passes; a wrong key, a wrong shape, a truncated
safetensors, random bytes and an HTML page are each named for what they are, and never count as installed."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests.test_preprocess_full import colour_parser_onnx
from tests.tiny_pasta_gan import make_tiny_pasta_gan_checkpoint
from tests.tiny_weight_folders import tiny_ladi_fixture, tiny_pd_fixture  # noqa: F401 - fixtures
from tryon import weights
from tryon.cli import main
from tryon.weight_checks import StructureError, onnx_io

DRIVE_PAGE = ("<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>Google Drive "
              "can't scan this file for viruses.<form id=\"download-form\"></form></body></html>")


def file_of(group: str, name: str) -> weights.WeightFile:
    return next(f for f in weights.get_group(group).files if f.name == name)


def check(group: str, name: str, path: Path, *layouts: Path) -> str:
    return file_of(group, name).run_check(path, layouts)


def test_every_tiny_ladi_vton_file_passes_its_check(tiny_ladi: Path) -> None:
    group = weights.get_group("ladi-vton")
    present = [f for f in group.files if (tiny_ladi / f.path.split("/", 1)[1]).is_file()]
    assert len(present) == 15  # 8 release files + 5 SD2 + 2 CLIP (no tokenizer folder)
    for file in present:
        assert file.run_check(tiny_ladi / file.path.split("/", 1)[1], (tiny_ladi,))


def test_a_state_dict_with_other_keys_is_named(tiny_ladi: Path, tmp_path: Path) -> None:
    state = torch.load(tiny_ladi / "vitonhd" / "unet_vitonhd.pth", weights_only=True)
    torch.save({k: state[k] for k in ("conv_in.weight", "time_embedding.linear_1.weight")}, tmp_path / "u.pth")
    with pytest.raises(StructureError) as err:
        check("ladi-vton", "vitonhd/unet_vitonhd.pth", tmp_path / "u.pth", tiny_ladi)
    assert str(err.value).startswith(f"a state dict with 2 keys, expected {len(state)}; first missing: conv_in.bias")


def test_a_wrong_shape_is_named(tiny_ladi: Path, tmp_path: Path) -> None:
    """A PromptDresser-like UNet (9 input channels) where LaDI-VTON's 31-channel one belongs."""
    state = torch.load(tiny_ladi / "vitonhd" / "unet_vitonhd.pth", weights_only=True)
    state["conv_in.weight"] = state["conv_in.weight"][:, :9]
    torch.save(state, tmp_path / "u.pth")
    with pytest.raises(StructureError, match=r"conv_in.weight has shape \(16, 9, 3, 3\), expected \(16, 31, 3, 3\)"):
        check("ladi-vton", "vitonhd/unet_vitonhd.pth", tmp_path / "u.pth", tiny_ladi)


def test_a_truncated_safetensors_is_named(tiny_ladi: Path, tmp_path: Path) -> None:
    whole = (tiny_ladi / "stable-diffusion-2-inpainting" / "vae" / "diffusion_pytorch_model.safetensors").read_bytes()
    cut = tmp_path / "vae" / "diffusion_pytorch_model.safetensors"
    cut.parent.mkdir()
    shutil.copy(tiny_ladi / "stable-diffusion-2-inpainting" / "vae" / "config.json", cut.parent / "config.json")
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(StructureError, match="a truncated safetensors file"):
        check("ladi-vton", "stable-diffusion-2-inpainting/vae/diffusion_pytorch_model.safetensors", cut, tiny_ladi)


def test_random_bytes_and_html_pages_are_named(tmp_path: Path) -> None:
    (tmp_path / "random.pth").write_bytes(bytes(range(7, 256)) * 9)
    with pytest.raises(StructureError, match="not a PyTorch, safetensors or ONNX file"):
        check("ladi-vton", "vitonhd/emasc_vitonhd.pth", tmp_path / "random.pth")
    (tmp_path / "page.pkl").write_text(DRIVE_PAGE)
    with pytest.raises(StructureError, match="an HTML page, likely Google Drive's confirmation page"):
        check("pasta-gan++", "snapshot", tmp_path / "page.pkl")


def test_random_bytes_as_a_release_file_are_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    """The issue's example: `--from` random bytes named unet_vitonhd.pth used to be recorded as installed."""
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "cache"))
    (tmp_path / "unet_vitonhd.pth").write_bytes(b"\x13\x37" * 4096)
    assert main(["weights", "fetch", "ladi-vton", "--from", str(tmp_path / "unet_vitonhd.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unet_vitonhd.pth" in err and "not a PyTorch" in err and "nothing was imported" in err
    assert not (tmp_path / "cache" / "ladi-vton").exists() and weights.read_manifest(tmp_path / "cache") == {}


def test_a_drive_page_given_with_from_never_reaches_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "cache"))
    (tmp_path / "network-snapshot-004408.pkl").write_text(DRIVE_PAGE)
    assert main(["weights", "fetch", "pasta-gan++", "--from", str(tmp_path / "network-snapshot-004408.pkl")]) == 2
    assert "likely Google Drive's confirmation page" in capsys.readouterr().err
    assert not (tmp_path / "cache" / "pasta-gan++").exists()


def test_pasta_gan_snapshot_is_checked_by_a_dry_run(tmp_path: Path) -> None:
    snapshot = make_tiny_pasta_gan_checkpoint(tmp_path / "snap.pkl")
    assert "338 tensors" not in check("pasta-gan++", "snapshot", snapshot)  # the 97 FIR copies are not loaded
    assert "241 tensors as in the PASTA-GAN++ G_ema" in check("pasta-gan++", "snapshot", snapshot)
    (tmp_path / "nog.pkl").write_bytes(pickle.dumps({"G": None}))
    with pytest.raises(StructureError, match="no 'G_ema' network"):
        check("pasta-gan++", "snapshot", tmp_path / "nog.pkl")


def test_prompt_dresser_unet_config_and_checkpoint(tiny_pd: Path, tmp_path: Path) -> None:
    unet = tiny_pd / "unet" / "pytorch_model.bin"
    assert "9" in check("prompt-dresser", "unet_config", tiny_pd / "unet" / "config.json")
    assert check("prompt-dresser", "unet", unet, tiny_pd)
    config = json.loads((tiny_pd / "garment_unet" / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config))  # the garment UNet's config: 4 input channels
    with pytest.raises(StructureError, match="in_channels 4, expected 9"):
        check("prompt-dresser", "unet_config", tmp_path / "config.json")
    shutil.copy(unet, tmp_path / "pytorch_model.bin")  # beside a 4-channel config, the 9-channel file fails
    with pytest.raises(StructureError, match="conv_in.weight has shape"):
        check("prompt-dresser", "unet", tmp_path / "pytorch_model.bin")


def test_onnx_parsers_are_checked_by_their_graph(tmp_path: Path) -> None:
    (tmp_path / "parsing_atr.onnx").write_bytes(colour_parser_onnx(18, red_label=2, blue_label=4))
    inputs, outputs = onnx_io(tmp_path / "parsing_atr.onnx")
    assert [name for name, _ in inputs] == ["input.1"] and [d[1] for _, d in outputs] == [2, 18]
    assert "18-label output" in check("preprocess", "schp-atr", tmp_path / "parsing_atr.onnx")
    with pytest.raises(StructureError, match="20-label output"):
        check("preprocess", "schp-lip", tmp_path / "parsing_atr.onnx")
    whole = (tmp_path / "parsing_atr.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(whole[: len(whole) - 40])
    with pytest.raises(StructureError, match="truncated"):
        onnx_io(tmp_path / "cut.onnx")


def test_openpose_state_dict_in_the_mirrored_layout_passes(tmp_path: Path) -> None:
    from tryon.preprocess.openpose import BodyPoseNet

    state = {k.split(".", 1)[1]: v for k, v in BodyPoseNet().state_dict().items()}
    torch.save(state, tmp_path / "body_pose_model.pth")
    assert check("preprocess", "openpose-body", tmp_path / "body_pose_model.pth")
    save_file({"conv1_1.weight": torch.zeros(64, 3, 3, 3)}, str(tmp_path / "small.safetensors"))
    with pytest.raises(StructureError, match="a state dict with 1 keys"):
        check("preprocess", "openpose-body", tmp_path / "small.safetensors")


def test_metric_weights_are_checked_against_their_modules(tmp_path: Path) -> None:
    import torchvision

    from tryon.metrics_weights import _fidelity_template, backbone_from_torchvision

    torch.save(backbone_from_torchvision(torchvision.models.alexnet().state_dict()), tmp_path / "alex.pth")
    assert "AlexNet features" in check("metrics", "lpips-alex", tmp_path / "alex.pth")
    with pytest.raises(StructureError, match="not the VGG16 features"):
        check("metrics", "lpips-vgg", tmp_path / "alex.pth")
    torch.save(_fidelity_template(), tmp_path / "inception.pth")
    assert "TF-FID Inception" in check("metrics", "fid-inception", tmp_path / "inception.pth")


def test_verify_names_an_installed_file_that_went_bad(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("TRYON_WEIGHTS_DIR", str(tmp_path / "cache"))
    weights.fetch("pasta-gan++", make_tiny_pasta_gan_checkpoint(tmp_path / "snap.pkl"))
    assert main(["weights", "verify", "pasta-gan++", "--sha"]) == 0
    g_ema = tmp_path / "cache" / "pasta-gan++" / "g_ema.safetensors"
    g_ema.write_bytes(g_ema.read_bytes()[:1000])
    assert main(["weights", "verify", "pasta-gan++"]) == 1
    out = capsys.readouterr().out
    assert "pasta-gan++/g_ema\tbad\t" in out and "truncated safetensors" in out
