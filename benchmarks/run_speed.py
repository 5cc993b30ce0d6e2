"""How fast the two things a new user starts answer, as whole processes (imports included).

1. `python app.py` until it answers HTTP (target: within 10 s on a 2-core CPU), against a bare Gradio app
   launched the same way: the floor that Gradio's own import and server start set. A and B run in turn
   (A B A B ...) and the ratio is taken pair by pair, so a machine whose speed drifts still compares fairly.
2. `python -m tryon run` on the example photos (target: under 10 s), against the preprocessing alone
   (`prepare`) in the same run.

Usage: python benchmarks/run_speed.py [--repeat 5] [--only app|cli]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "assets" / "examples" / "photos"
TIMEOUT_S = 120.0
# The yardstick: Gradio's import and server start with nothing of ours in it.
BARE_GRADIO = ("import os, gradio as gr\n"
               "with gr.Blocks() as demo:\n"
               "    gr.Markdown('bare')\n"
               "demo.launch(server_name='127.0.0.1', server_port=int(os.environ['GRADIO_SERVER_PORT']))\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seconds_until_http(command: list[str]) -> float:
    """Start `command` (which serves on $GRADIO_SERVER_PORT) and time it until GET / answers; then stop it."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < TIMEOUT_S:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode} before answering HTTP")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                    return time.perf_counter() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        raise RuntimeError(f"{command} did not answer HTTP within {TIMEOUT_S:.0f} s")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def seconds_to_exit(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tryon", *args], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def table(title: str, rows: list[tuple[str, list[float]]], baseline: str, ratios: list[float], target: float) -> None:
    print(f"\n{title}")
    print(f"{'command':<34} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in rows:
        print(f"{name:<34} {statistics.median(values):>9.2f} {min(values):>7.2f} {max(values):>7.2f}")
    first = statistics.median(rows[0][1])
    print(f"{rows[0][0]} / {baseline}: median ratio {statistics.median(ratios):.2f}x over {len(ratios)} pairs; "
          f"target: under {target:.0f} s -> {'met' if first < target else 'NOT met'}")


def app_start(repeat: int) -> None:
    app, bare = [sys.executable, "app.py"], [sys.executable, "-c", BARE_GRADIO]
    seconds_until_http(app)  # warm-up, not counted: the first start also fills the OS file cache
    ours, floor = [], []
    for _ in range(repeat):
        ours.append(seconds_until_http(app))
        floor.append(seconds_until_http(bare))
    table("python app.py until it answers HTTP", [("app.py", ours), ("bare Gradio app", floor)],
          "bare Gradio app", [a / b for a, b in zip(ours, floor, strict=True)], 10.0)


def cli_run(repeat: int) -> None:
    person, garment = str(PHOTOS / "person_astronaut.jpg"), str(PHOTOS / "garment_red_tee.jpg")
    run, prepare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            run.append(seconds_to_exit(["run", "--person", person, "--garment", garment, "--backends", "warp",
                                        "--out", f"{tmp}/run{i}"]))
            prepare.append(seconds_to_exit(["prepare", "--person", person, "--garment", garment, "--out",
                                            f"{tmp}/ds{i}", "--id", "x"]))
    table("python -m tryon run on the example photos", [("run --backends warp", run),
                                                          ("prepare (preprocessing only)", prepare)],
          "prepare", [a / b for a, b in zip(run, prepare, strict=True)], 10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each command (the median is quoted)")
    parser.add_argument("--only", choices=["app", "cli"], help="one of the two measurements")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs visible, Python {sys.version.split()[0]}")
    if args.only in (None, "app"):
        app_start(args.repeat)
    if args.only in (None, "cli"):
        cli_run(args.repeat)


if __name__ == "__main__":
    main()
