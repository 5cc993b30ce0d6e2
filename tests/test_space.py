"""The Space README is generated from spaces.yaml."""

import yaml

from tryon.cli import main
from tryon.space import ROOT


def test_space_readme_front_matter_matches_spaces_yaml(tmp_path, capsys):
    out = tmp_path / "README.md"
    assert main(["space-readme", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front == yaml.safe_load((ROOT / "spaces.yaml").read_text())
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    assert (ROOT / front["app_file"]).is_file()
