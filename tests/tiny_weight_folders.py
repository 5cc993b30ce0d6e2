"""Module-scoped fixtures: the tests' tiny LaDI-VTON and PromptDresser weight folders, in the cache layout."""

from pathlib import Path

import pytest

from tests.tiny_ladi_vton import make_tiny_ladi_vton_folder
from tests.tiny_prompt_dresser import make_tiny_prompt_dresser_folder


@pytest.fixture(scope="module", name="tiny_ladi")
def tiny_ladi_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_ladi_vton_folder(tmp_path_factory.mktemp("ladi") / "ladi-vton")


@pytest.fixture(scope="module", name="tiny_pd")
def tiny_pd_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_prompt_dresser_folder(tmp_path_factory.mktemp("pd") / "prompt-dresser")
