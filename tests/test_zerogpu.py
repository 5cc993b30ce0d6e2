"""ZeroGPU: with a stand-in `spaces` module, model work is wrapped in spaces.GPU with a scaled duration."""

import sys
import types

import gradio as gr
import pytest

from tryon.zerogpu import MAX_DURATION, gpu_duration, on_gpu


def test_duration_scales_with_backends_and_steps():
    assert gpu_duration(["warp"]) < gpu_duration(["warp", "ladi-vton"])
    assert gpu_duration(["ladi-vton"], steps=100) > gpu_duration(["ladi-vton"], steps=10)
    assert gpu_duration(["prompt-dresser"] * 20, steps=1000) == MAX_DURATION


def test_without_spaces_nothing_changes(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # import machinery treats None as "not installed"
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)

    def work():
        return 1

    assert on_gpu(work, lambda: 1) is work


def test_with_spaces_the_function_is_wrapped(monkeypatch):
    calls = {}

    def gpu(duration):
        def decorate(fn):
            def wrapped(*args, **kwargs):
                calls["duration"] = duration(*args, **kwargs)
                return fn(*args, **kwargs)

            return wrapped

        return decorate

    fake = types.ModuleType("spaces")
    fake.GPU = gpu
    fake.__spec__ = types.SimpleNamespace(name="spaces")
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: fake.__spec__ if name == "spaces" else None)
    from tryon.options import builtin_classes
    from tryon.ui.option_controls import shared_controls
    from tryon.ui.tryon_tab import tryon_endpoint

    endpoint = tryon_endpoint(shared_controls(builtin_classes()))  # the Run button's handler, as the app wires it
    with pytest.raises(gr.Error, match="upload a person photo"):
        list(endpoint(None, None, "upper", ["ladi-vton"], steps=50))
    assert calls["duration"] == gpu_duration(["ladi-vton"], 50)
    with pytest.raises(gr.Error):
        list(endpoint(None, None, "upper", ["prompt-dresser"]))
    assert calls["duration"] == gpu_duration(["prompt-dresser"], 30)  # the default steps, from its options class
