"""The Space README is generated from spaces.yaml; `preload_groups` becomes Hugging Face's `preload_from_hub`."""

import logging

import pytest
import yaml

from tryon import space, weights
from tryon.cli import main
from tryon.errors import InputError
from tryon.space import ROOT


def test_space_readme_front_matter_matches_spaces_yaml(tmp_path, capsys):
    out = tmp_path / "README.md"
    assert main(["space-readme", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    expected = yaml.safe_load((ROOT / "spaces.yaml").read_text())
    groups = expected.pop("preload_groups")
    preload = front.pop("preload_from_hub")
    assert front == expected  # every other key verbatim; our own key is not shown to Hugging Face
    assert preload == weights.preload_from_hub(groups) and preload
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    assert (ROOT / front["app_file"]).is_file()


def test_preload_lines_are_well_formed_model_repo_lines():
    lines = yaml.safe_load(space.front_matter().split("---\n")[1])["preload_from_hub"]
    repos = [line.split(" ")[0] for line in lines]
    assert len(repos) == len(set(repos)) and repos == sorted(repos)
    for line in lines:
        repo, files = line.split(" ")  # every hub source of ours is on `main`: no revision field
        assert repo.count("/") == 1 and not repo.startswith(("spaces/", "datasets/"))
        assert files.split(",") == sorted(set(files.split(",")))
    assert "lllyasviel/Annotators body_pose_model.pth" in lines


def test_unknown_preload_group_is_rejected(tmp_path):
    config = tmp_path / "spaces.yaml"
    config.write_text("sdk: gradio\napp_file: app.py\npreload_groups: [ladi-vton, no-such-group]\n")
    with pytest.raises(InputError, match="no-such-group"):
        space.front_matter(config)


def test_hand_written_preload_lines_are_kept_before_generated_ones(tmp_path):
    config = tmp_path / "spaces.yaml"
    config.write_text("sdk: gradio\napp_file: app.py\npreload_from_hub: [owner/extra a.bin]\n"
                      "preload_groups: [preprocess]\ntitle: t\n")
    front = yaml.safe_load(space.front_matter(config).split("---\n")[1])
    assert list(front) == ["sdk", "app_file", "preload_from_hub", "title"]
    assert front["preload_from_hub"] == ["owner/extra a.bin", *weights.preload_from_hub(["preprocess"])]


def test_a_broken_hub_cache_never_stops_the_app(monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise OSError("cache unreadable")

    monkeypatch.setattr(weights, "adopt_hub_cache", broken)
    with caplog.at_level(logging.WARNING, logger="tryon.space"):
        assert space.use_preloaded_weights() == []
    assert "cache unreadable" in caplog.text
