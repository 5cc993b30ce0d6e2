"""The demo starts fast because it imports no model library until a run needs one; this keeps it that way.

`python app.py` must answer HTTP within 10 s on 2 cores (benchmarks/run_speed.py measures it). diffusers and
transformers alone took about 3.5 s of a 12 s start when the backends and the settings tab imported them while
the app was built. A timing in a test would be noise, so this checks the cause instead: what importing the app
module (which builds the whole UI) leaves in sys.modules, in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tryon.ui import settings_tab

ROOT = Path(__file__).parents[1]
# Libraries that only a model run, a parser with weights, a metric or a batch job needs.
MODEL_LIBRARIES = ("diffusers", "transformers", "onnxruntime", "lpips", "accelerate", "mediapipe", "torchmetrics")


def _modules_after(statement: str) -> set[str]:
    probe = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_building_the_app_imports_no_model_library():
    loaded = _modules_after("import app")
    assert "gradio" in loaded and "tryon.ui.tryon_tab" in loaded  # the probe did build the app
    assert not {m for m in MODEL_LIBRARIES if m in loaded}


def test_a_backend_run_still_imports_its_libraries_when_needed():
    """The probe can see a lazy import happen: estimating LaDI-VTON's memory (what the settings tab shows once a
    page loads) does bring in diffusers."""
    loaded = _modules_after("from tryon.backends.base import get_backend\n"
                            "get_backend('ladi-vton').memory_profile()")
    assert "diffusers" in loaded


def test_the_settings_table_is_filled_when_a_page_loads():
    """Its rows are computed by a load event of the app, not while the app is built."""
    from tryon.ui import build_app

    app = build_app(default_backends=["warp"])
    loads = [d for d in app.fns.values() if any(trigger[1] == "load" for trigger in d.targets)]
    assert any(d.fn is settings_tab.backend_rows for d in loads)
