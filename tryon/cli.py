"""`python -m tryon`: everything the UI can do, from the command line.

Errors a user can fix (InputError) print one line and exit with code 2; nothing else is caught here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tryon.errors import InputError
from tryon.options import BUILTIN_NAMES, Options, builtin_classes, choices_from_args, cli_flags, options_class

if TYPE_CHECKING:  # tryon.runtime imports torch: only a command that runs a model needs it, not --help
    from tryon.runtime import Runtime

Handler = Callable[[argparse.Namespace], int]


def _classes(args: argparse.Namespace) -> list[type[Options]]:
    """The options classes of the chosen backends: only their flags are read (every built-in one is offered)."""
    return [options_class(name) for name in _backends(args)]


def _backends(args: argparse.Namespace) -> list[str]:
    return [b.strip() for b in args.backends.split(",") if b.strip()]


def _runtime(args: argparse.Namespace) -> Runtime:
    from tryon.runtime import runtime_from_choices

    return runtime_from_choices(args.device, args.dtype, args.offload, args.gpu_memory)


class StepBars:
    """One tqdm bar per backend, following its steps (a PromptDresser run on a small card takes minutes)."""

    def __init__(self) -> None:
        self.bars: dict[str, Any] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if name not in self.bars:
            self.bars[name] = tqdm(total=total, desc=name, unit="step", leave=False)
        bar = self.bars[name]
        bar.total = total
        bar.update(done - bar.n)

    def close(self, name: str) -> None:
        if name in self.bars:
            self.bars.pop(name).close()


def _add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where models run")
    group.add_argument("--device", help="cuda, cuda:1 or cpu (default: cuda when a GPU is visible)")
    group.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], help="default: fp16 on CUDA, fp32 on CPU")
    group.add_argument("--offload", choices=["auto", "none", "model", "sequential"],
                       help="CPU offloading (default on CUDA: auto, the fastest mode that fits the free memory)")
    group.add_argument("--gpu-memory", type=float, metavar="GB",
                       help="use and plan for at most this much GPU memory (share a card, or try a small one)")


def _cmd_run(args: argparse.Namespace) -> int:
    from tryon.backends.base import run_backends
    from tryon.preprocess import prepare_sample
    from tryon.workflow import write_run

    choices = choices_from_args(args, _classes(args), args.person, args.garment)
    sample = prepare_sample(args.person, args.garment, args.category, name=Path(args.person).stem)
    results, runtime, bars = [], _runtime(args), StepBars()
    for result in run_backends(_backends(args), sample, choices, runtime, bars):
        bars.close(result.backend)
        results.append(result)
        mode = result.options.get("mode", "")
        status = f"{result.seconds:.2f} s ({mode})" if result.ok else f"failed: {result.error}"
        print(f"{result.backend}: {status}")
    for note in sample.notes:
        print(f"note: {note}")
    print(f"wrote {write_run(Path(args.out), sample, results, runtime)}")
    return 0 if all(r.ok for r in results) else 1


def _cmd_prepare(args: argparse.Namespace) -> int:
    from tryon.dataset import prepare_to_folder
    from tryon.provenance import record_path

    sample = prepare_to_folder(args.person, args.garment, args.out, args.id, args.category)
    made = ", ".join(f"{k}: {v}" for k, v in sample.provenance.items() if isinstance(v, str) and k != "dataset")
    print(f"wrote {args.id} into {args.out} ({made}); provenance: {record_path(Path(args.out), args.id)}")
    for note in sample.notes:
        print(f"note: {note}")
    return 0


def _cmd_infer(args: argparse.Namespace) -> int:
    from tryon.evaluate import infer

    summary = infer(args.dataset, _backends(args), args.out, args.pairs, not args.unpaired,
                    choices_from_args(args, _classes(args)), args.category, runtime=_runtime(args))
    print(f"{summary['generated']} generated, {summary['skipped']} skipped, {len(summary['failed'])} failed")
    return 0 if not summary["failed"] else 1


def _cmd_eval(args: argparse.Namespace) -> int:
    from tryon.allocator import keep_freed_memory
    from tryon.evaluate import CSV_COLUMNS, csv_row, evaluate, expand_results
    from tryon.report_html import comparison_lines, report_notes

    # Thousands of large short-lived tensors: reuse freed memory instead of page-faulting it. Only the eval command
    # does this (the process exits afterwards); the app must not keep its peak memory for good.
    keep_freed_memory()
    report = evaluate(args.dataset, expand_results(args.results), args.out, args.pairs, not args.unpaired)
    if report is None:  # not rank 0 of an accelerate launch
        return 0
    print("\t".join(CSV_COLUMNS))
    for name, summary in report["backends"].items():
        row = csv_row(name, summary)
        print("\t".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
    for line in comparison_lines(report):
        print(line)
    for note in report_notes(report):
        print(f"note: {note}")
    print(f"wrote {args.out}/metrics.json, metrics.csv, metrics.html, metrics.png")
    return 0


def _cmd_space_readme(args: argparse.Namespace) -> int:
    from tryon.space import space_readme

    text = space_readme()
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def _cmd_golden_check(args: argparse.Namespace) -> int:
    from tryon.golden import check_kit, machine

    print(machine())
    reports, keys = check_kit(args.kit, only=args.case or None)
    width = max([len(r.name) for r in reports] + [16])
    print(f"{'case':<{width}}  {'max abs err':>12}  {'atol':>8}  result")
    for r in reports + [keys]:
        err = "-" if r.name == "real_config_keys" else f"{r.max_abs_err:.3g}"
        atol = "-" if r.name == "real_config_keys" else f"{r.atol:g}"
        line = f"{r.name:<{width}}  {err:>12}  {atol:>8}  {'pass' if r.passed else 'FAIL'}"
        print(line + (f"  {r.detail}" if r.detail and (not r.passed or r.name == 'real_config_keys') else ""))
        if r.note:
            print(f"{'':<{width}}  note: {r.note}")
    failed = [r for r in reports + [keys] if not r.passed]
    print(f"{len(reports) + 1 - len(failed)} passed, {len(failed)} failed")
    return 0 if not failed else 1


def _cmd_options(args: argparse.Namespace) -> int:
    from tryon.options import markdown_table, write_docs_table

    unknown = [name for name in args.backends if name not in BUILTIN_NAMES]
    if unknown:
        raise InputError(f"unknown backend {unknown[0]!r}: choose from {', '.join(BUILTIN_NAMES)}")
    for name in args.backends or BUILTIN_NAMES:
        if args.write_docs:
            print(f"{name}: {'updated' if write_docs_table(name) else 'up to date'}")
        else:
            print(f"## {name}\n\n{markdown_table(options_class(name))}\n")
    return 0


def _cmd_weights_list(args: argparse.Namespace) -> int:
    from tryon import weights

    root = weights.cache_dir()
    for name in args.groups or weights.group_names():
        group = weights.get_group(name)
        for file in group.files:
            status = "present" if file.present(root) else "missing"
            extra = f" [{file.variant}]" if file.variant else (" [optional]" if file.name in group.optional else "")
            print(f"{group.name}/{file.name}\t{status}{extra}\t{weights.size_text(file.size_mb)}\t{file.local(root)}")
        print(f"{group.name}: {weights.pending_text(group, root)}")
    return 0


def _cmd_weights_fetch(args: argparse.Namespace) -> int:
    from tryon import weights

    for name in args.groups:
        provenance = weights.fetch(name, Path(args.source) if args.source else None, variant=args.variant)
        for file, source in provenance.items():
            print(f"{name}/{file}: {source}")
        if not provenance:
            print(f"{name}: nothing to fetch ({weights.pending_text(weights.get_group(name))})")
    return 0


def _cmd_weights_verify(args: argparse.Namespace) -> int:
    from tryon import weights

    rows = weights.verify(args.groups or None, sha=args.sha)
    for file, status, detail in rows:
        print(f"{file}\t{status}\t{detail}")
    return 0 if all(status in ("ok", "missing") for _, status, _ in rows) else 1


def _cmd_space_bundle(args: argparse.Namespace) -> int:
    from tryon.space import write_bundle

    written = write_bundle(Path(args.dir))
    print(f"wrote the Space repo in {args.dir}: {', '.join(written)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tryon", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="try a garment on a person with one or more backends")
    run.add_argument("--person", required=True, help="person photo")
    run.add_argument("--garment", required=True, help="garment product photo")
    run.add_argument("--category", default="upper", help="upper, lower or dress")
    run.add_argument("--backends", default="warp", help="comma-separated backend names")
    run.add_argument("--out", required=True, help="folder for <backend>.png and run.json")
    _add_runtime_flags(run)
    cli_flags(run, builtin_classes())
    run.set_defaults(handler=_cmd_run)

    prepare = sub.add_parser("prepare", help="write one sample into a VITON-HD-style folder")
    prepare.add_argument("--person", required=True)
    prepare.add_argument("--garment", required=True)
    prepare.add_argument("--out", required=True, help="dataset folder (created if needed)")
    prepare.add_argument("--id", required=True, help="sample name: image/NAME.jpg, cloth/NAME.jpg, ...")
    prepare.add_argument("--category", default="upper")
    prepare.set_defaults(handler=_cmd_prepare)

    infer = sub.add_parser("infer", help="generate results for every pair of a dataset (resumable)")
    evaluate = sub.add_parser("eval", help="score result folders against a dataset: FID/KID, LPIPS, SSIM")
    for p in (infer, evaluate):
        p.add_argument("--dataset", required=True, help="VITON-HD-style folder")
        p.add_argument("--pairs", help="pairs file (default: the dataset's test_pairs.txt)")
        p.add_argument("--unpaired", action="store_true", help="keep the listed cloths (default: each person's own)")
        p.add_argument("--out", required=True, help="output folder")
    infer.add_argument("--backends", default="warp", help="comma-separated backend names")
    infer.add_argument("--category", default="upper")
    _add_runtime_flags(infer)
    cli_flags(infer, builtin_classes(), with_files=False)  # the dataset's own test_gpt4o.json gives the prompts
    infer.set_defaults(handler=_cmd_infer)
    evaluate.add_argument("--results", nargs="+", required=True, help="NAME=DIR, DIR, or an infer output folder")
    evaluate.set_defaults(handler=_cmd_eval)

    space = sub.add_parser("space-readme", help="write the Hugging Face Space README (front matter from spaces.yaml)")
    space.add_argument("--out", help="file to write (default: print)")
    space.set_defaults(handler=_cmd_space_readme)
    bundle = sub.add_parser("space-bundle", help="write a complete Hugging Face Space repo (README, requirements, "
                            "app.py, tryon/, assets/) into DIR")
    bundle.add_argument("dir", help="folder to write (e.g. a clone of the Space repo; its .git is kept)")
    bundle.set_defaults(handler=_cmd_space_bundle)

    golden = sub.add_parser("golden", help="check a port against a golden kit of the official code")
    golden_sub = golden.add_subparsers(dest="golden_command", required=True)
    check = golden_sub.add_parser("check", help="run every case of a kit; exit 0 only if all pass")
    check.add_argument("kit", help="kit folder (holds kit.json)")
    check.add_argument("--case", action="append", help="only this case (repeatable)")
    check.set_defaults(handler=_cmd_golden_check)

    options = sub.add_parser("options", help="each backend's options: name, flag, default, range, meaning")
    options.add_argument("backends", nargs="*", metavar="BACKEND", help="default: every built-in backend")
    options.add_argument("--write-docs", action="store_true", help="rewrite the tables in docs/backends/*.md")
    options.set_defaults(handler=_cmd_options)

    weights = sub.add_parser("weights", help="list, fetch or verify weight files")
    weights_sub = weights.add_subparsers(dest="weights_command", required=True)
    wl = weights_sub.add_parser("list", help="per file: status, expected size, path; per group: what is left")
    wl.add_argument("groups", nargs="*")
    wl.set_defaults(handler=_cmd_weights_list)
    wf = weights_sub.add_parser("fetch", help="obtain a group's files (download, or --from a local copy)")
    wf.add_argument("groups", nargs="+")
    wf.add_argument("--from", dest="source", help="a file or folder you hold: our layout, a Hugging Face snapshot "
                    "or local_dir, or the official download (checked before anything is copied)")
    wf.add_argument("--variant", help="dataset variant for groups that have them (ladi-vton: vitonhd (default), "
                    "dresscode or all)")
    wf.set_defaults(handler=_cmd_weights_fetch)
    wv = weights_sub.add_parser("verify", help="run the structure check on every installed file")
    wv.add_argument("groups", nargs="*")
    wv.add_argument("--sha", action="store_true", help="also re-hash each file against the manifest")
    wv.set_defaults(handler=_cmd_weights_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
