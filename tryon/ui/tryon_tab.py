"""The Try-on tab: two photos in, the chosen backends' results out, side by side as each finishes."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from tryon.backends.base import backend_names, backend_status, run_backends
from tryon.errors import InputError
from tryon.imaging import load_image
from tryon.metrics import score_result
from tryon.options import builtin_classes
from tryon.plots import result_bars
from tryon.preprocess import prepare_sample
from tryon.preprocess.overrides import mask_from_drawing
from tryon.sample import TryOnResult, TryOnSample
from tryon.ui import prompt_dresser_panel
from tryon.ui.common import PhotoInput, notes_markdown, preprocessing_previews, user_errors
from tryon.ui.option_controls import OptionControls, shared_controls
from tryon.workflow import write_run
from tryon.zerogpu import gpu_duration, on_gpu

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples" / "photos"
CATEGORY_CHOICES = [("upper body", "upper"), ("lower body", "lower"), ("dress", "dress")]


def backend_choices() -> list[tuple[str, str]]:
    """(label with status, name) for every registered backend; a missing backend is listed, not hidden."""
    choices = []
    for name in backend_names():
        label, status = backend_status(name)
        choices.append((label if status.ready else f"{label} — {status.message}", name))
    return choices


@lru_cache(maxsize=8)
def _prepared(person: str, garment: str, category: str, stamp: tuple[float, float]) -> TryOnSample:
    return prepare_sample(person, garment, category, name=Path(person).stem)


def parse_keypoints(text: str | None) -> np.ndarray | None:
    """The keypoints override typed by the user: JSON with 18 [x, y, confidence] rows (COCO-18 order)."""
    if not text or not text.strip():
        return None
    try:
        points = np.asarray(json.loads(text), dtype=np.float32)
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise InputError(f"keypoints override: not a JSON list of [x, y, confidence] rows ({exc})") from exc
    if points.shape != (18, 3):
        raise InputError(f"keypoints override: expected 18 rows of [x, y, confidence], got shape {points.shape}")
    return points


def sample_for(person: str | None, garment: str | None, category: str, mask_drawing: dict | None = None,
               keypoints_text: str | None = None) -> TryOnSample:
    """Preprocess two uploaded files once; repeated runs on the same files reuse the sample. A painted garment
    mask or typed keypoints override the estimators (and bypass the cache)."""
    if not person or not garment:
        raise InputError("upload a person photo and a garment photo first")
    stamp = (os.path.getmtime(person), os.path.getmtime(garment))
    estimated = _prepared(person, garment, category, stamp)
    keypoints = parse_keypoints(keypoints_text)
    if keypoints is not None and np.allclose(keypoints, estimated.keypoints, atol=0.1):
        keypoints = None  # the field still shows the estimate: not an override
    painted = None
    if mask_drawing and mask_drawing.get("layers"):
        garment_size = load_image(garment).shape[:2]
        painted = mask_from_drawing(mask_drawing, garment_size)
        painted = painted if painted.any() else None
    if keypoints is not None or painted is not None:
        return prepare_sample(person, garment, category, name=Path(person).stem,
                              garment_mask_override=painted, keypoints_override=keypoints)
    return estimated


def keypoints_json(sample: TryOnSample) -> str:
    return json.dumps([[round(float(v), 1) for v in row] for row in sample.keypoints])


@user_errors
def preview(person: str | None, garment: str | None, category: str, mask_drawing: dict | None = None,
            keypoints_text: str | None = None) -> tuple[list, str, str]:
    if not person or not garment:
        return [], "", ""
    sample = sample_for(person, garment, category, mask_drawing, keypoints_text)
    return preprocessing_previews(sample), notes_markdown(sample), keypoints_json(sample)


def _status_table(names: list[str], results: list[TryOnResult]) -> str:
    done = {r.backend: r for r in results}
    rows = ["| backend | status | time | peak memory | mode | seed |", "|---|---|---|---|---|---|"]
    for name in names:
        r = done.get(name)
        if r is None:
            rows.append(f"| {name} | running… | | | | |")
        elif r.ok:
            memory = f"{r.peak_memory_mb:.0f} MB" if r.peak_memory_mb else ""
            rows.append(f"| {name} | done | {r.seconds:.2f} s | {memory} | {r.options.get('mode', '')} | {r.seed} |")
        else:
            rows.append(f"| {name} | {r.error} | | | | {r.seed} |")
    notes = [f"- {r.backend}: {n}" for r in results for n in r.notes]
    return "\n".join(rows + ([""] + notes if notes else []))


def _archive(sample: TryOnSample, results: list[TryOnResult]) -> str:
    """run.json + one PNG per result, zipped for download."""
    folder = Path(tempfile.mkdtemp(prefix="tryon-run-"))
    write_run(folder / "run", sample, results)
    return shutil.make_archive(str(folder / f"tryon-{sample.name}"), "zip", folder / "run")


def tryon(
    person: str | None,
    garment: str | None,
    category: str = "upper",
    backends: list[str] | None = None,
    choices: dict[str, Any] | None = None,
    mask_drawing: dict | None = None,
    keypoints_text: str | None = None,
    history: list | None = None,
    progress: Callable[..., Any] = lambda *args, **kwargs: None,
) -> Iterator[tuple]:
    """Run the chosen backends on one person and one garment; stream (gallery, slider, status, download, chart,
    history). `choices` is what the user set (each backend merges it over its own defaults).

    Earlier results of the session stay in the gallery after the new ones, so a prompt change with the same
    seed can be compared side by side.
    """
    backends = list(backends or [])
    if not backends:
        raise InputError("choose at least one backend")
    progress(0, desc="preprocessing")
    sample = sample_for(person, garment, category, mask_drawing, keypoints_text)
    labels = {name: backend_status(name)[0] for name in backends}

    def steps(name: str, done: int, total: int) -> None:
        index = backends.index(name)
        progress((index + done / total) / len(backends), desc=f"{labels.get(name, name)} step {done}/{total}")

    results: list[TryOnResult] = []
    scores: dict[str, dict] = {}
    keep = ~sample.agnostic_mask if sample.agnostic_mask is not None else None
    fresh: list[tuple[np.ndarray, str]] = []
    earlier = list(history or [])
    slider, chart = None, None
    for result in run_backends(backends, sample, choices, progress=steps):
        results.append(result)
        progress(len(results) / len(backends), desc=f"{labels.get(result.backend, result.backend)} finished")
        if result.ok:
            caption = f"{result.backend} · {result.seconds:.2f} s · seed {result.seed}"
            if result.options.get("full_prompt"):
                caption += f" · {result.options['full_prompt'][:60]}"
            fresh.append((result.image, caption))
            slider = (sample.person, result.image)
            scores[result.backend] = score_result(result.image, sample.person, sample.ground_truth, keep)
        chart = result_bars(scores) if scores else None
        yield fresh + earlier, slider, _status_table(backends, results), None, chart, earlier
    yield (fresh + earlier, slider, _status_table(backends, results), _archive(sample, results), chart,
           fresh + earlier)


def tryon_endpoint(controls: OptionControls) -> Callable[..., Any]:
    """The Run button's handler and the `/tryon` API: the photos, the backends, one parameter per option control
    (named after its option, so API callers can set any of them by name), the corrections and the history."""
    plain = inspect.Parameter.POSITIONAL_OR_KEYWORD
    signature = inspect.Signature(
        [inspect.Parameter("person", plain), inspect.Parameter("garment", plain),
         inspect.Parameter("category", plain, default="upper"), inspect.Parameter("backends", plain, default=None)]
        + [inspect.Parameter(name, plain, default=None) for name in controls.names]
        + [inspect.Parameter(name, plain, default=None) for name in ("mask_drawing", "keypoints_text", "history")]
        + [inspect.Parameter("progress", plain, default=gr.Progress())])

    def handler(*args: Any, **kwargs: Any) -> Iterator[tuple]:
        given = signature.bind(*args, **kwargs)
        given.apply_defaults()
        a = given.arguments
        choices = controls.choices([a[name] for name in controls.names])
        yield from tryon(a["person"], a["garment"], a["category"], a["backends"], choices, a["mask_drawing"],
                         a["keypoints_text"], a["history"], a["progress"])

    handler.__signature__ = signature  # type: ignore[attr-defined]
    handler.__name__ = "tryon"

    def duration(*args: Any, **kwargs: Any) -> int:
        a = signature.bind(*args, **kwargs).arguments
        return gpu_duration(a.get("backends"), a.get("steps"))

    duration.__signature__ = signature  # type: ignore[attr-defined]
    return on_gpu(user_errors(handler), duration)


def build(default_backends: list[str] | None = None) -> None:
    """Lay out the tab inside the current Blocks context."""
    choices = backend_choices()
    ready = [name for name in backend_names() if backend_status(name)[1].ready]
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            with gr.Row():
                person = PhotoInput(type="filepath", label="Person photo", height=320, elem_id="person")
                garment = PhotoInput(type="filepath", label="Garment photo", height=320, elem_id="garment")
            category = gr.Radio(CATEGORY_CHOICES, value="upper", label="Garment category")
            backends = gr.CheckboxGroup(choices, value=default_backends or ready[:1], label="Backends",
                                        elem_id="backends")
            with gr.Accordion("Advanced", open=False):
                shared = shared_controls(builtin_classes())
            with gr.Accordion("PromptDresser: prompts and mask", open=False, elem_id="pd-panel"):
                pd = prompt_dresser_panel.build(person, garment, category, sample_for)
            controls = shared + pd
            run = gr.Button("Run", variant="primary", elem_id="run")
            gr.Examples(
                examples=[[str(EXAMPLES_DIR / f"person_{p}.jpg"), str(EXAMPLES_DIR / f"garment_{g}.jpg"), c]
                          for p, g, c in (("astronaut", "red_tee", "upper"), ("camera", "striped_tee", "upper"),
                                          ("camera", "denim_trousers", "lower"), ("camera", "dotted_dress", "dress"))],
                inputs=[person, garment, category],
                label="Examples (public-domain people, drawn garments)",
            )
        with gr.Column(scale=2, min_width=480):
            # "contain": each result whole, letterboxed in its tile (the default crops a portrait to its centre,
            # which shows the face rather than the garment)
            gallery = gr.Gallery(label="Results (newest first; earlier runs kept for comparison)", columns=3,
                                 height=420, object_fit="contain", elem_id="results")
            clear = gr.Button("Clear results", size="sm")
            slider = gr.ImageSlider(label="Before / after", type="numpy", elem_id="slider")
            status = gr.Markdown(elem_id="status")
            chart = gr.Plot(label="LPIPS / SSIM of each result against the person photo: whole image, outside the "
                            "try-on region (how well face, hands and background are kept) and inside it (how much "
                            "changed)", elem_id="result-metrics")
            download = gr.File(label="Download results (PNG + run.json)")
            with gr.Accordion("Preprocessing", open=True):
                previews = gr.Gallery(label="What the backends receive", columns=3, height=220, object_fit="contain",
                                      elem_id="previews")
                notes = gr.Markdown(elem_id="notes")
            with gr.Accordion("Correct the preprocessing", open=False):
                mask_editor = gr.ImageEditor(type="numpy", label="Paint the garment to replace the automatic mask",
                                             height=320, elem_id="mask-editor")
                keypoints = gr.Textbox(label="Keypoints (COCO-18 [x, y, confidence] rows; edit to override)",
                                       lines=3, elem_id="keypoints")
                refresh = gr.Button("Apply corrections", size="sm")
    for trigger in (person.change, garment.change, category.change):
        trigger(preview, [person, garment, category], [previews, notes, keypoints], api_visibility="private")
    garment.change(lambda path: {"background": path, "layers": [], "composite": path} if path else None, garment,
                   mask_editor, api_visibility="private")
    refresh.click(preview, [person, garment, category, mask_editor, keypoints], [previews, notes, keypoints],
                  api_visibility="private")
    history = gr.State([])
    run.click(tryon_endpoint(controls), [person, garment, category, backends, *controls.components, mask_editor,
                                         keypoints, history],
              [gallery, slider, status, download, chart, history], api_name="tryon", concurrency_limit=1)
    clear.click(lambda: ([], None, []), None, [gallery, slider, history], api_visibility="private")
