"""Typed run options: one dataclass per backend holds each option's default, range and help, validated once.

Everything a user sets reaches a backend the same way. The CLI, the UI and the Python API collect what the user
*set* into a plain dict (`choices`: name -> value, unset values left out); `options_for(cls, choices)` merges it
over the class's defaults and validates the result. The CLI flags (`cli_flags`), the UI controls
(`tryon.ui.option_controls`), the ZeroGPU step estimate and the docs' option tables (`markdown_table`) are all read
from the classes, so an option is declared once, in its backend's options class.

Shared options (seed, steps, guidance) are declared by each class that has them, with its own default: one
`--seed` flag or one "Seed" field then reaches every backend, and a backend's default applies where it is unset.
An option may `follow` a shared one (PromptDresser's text guidance follows "guidance" unless set itself).

This module imports neither torch nor gradio: the app imports it while building the page.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from tryon.backends.registry import BUILTIN
from tryon.errors import InputError

Place = Literal["shared", "panel", "cli", "api"]
OptionsT = TypeVar("OptionsT", bound="Options")


@dataclass(frozen=True)
class Spec:
    """What the user sees of one option.

    `place`: "shared" (one control for every backend: the UI's Advanced section and the CLI's common flags),
    "panel" (the backend's own UI panel and CLI group), "cli" (CLI group and API only) or "api" (Python only: values
    no flag can carry, such as another person's photo). `follow`: a shared option whose value is used when this one
    is unset. `read_file`: the CLI flag names a file, read with the run's photo names (person, garment stems).
    `to_pipeline`: the backend hands the value to its pipeline's call as the keyword of the same name, so a new
    option of that kind touches only the options class and the pipeline.
    """

    help: str
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    place: Place = "panel"
    follow: str | None = None
    flag: str | None = None
    read_file: Callable[[Path, str | None, str | None], Any] | None = None
    to_pipeline: bool = False


def option(default: Any, help: str, **spec: Any) -> Any:  # noqa: A002 - argparse's own word
    """A dataclass field carrying its `Spec` (defaults that are dicts or lists are not allowed: use None)."""
    return field(default=default, metadata={"spec": Spec(help=help, **spec)})


@dataclass(frozen=True)
class OptionInfo:
    """One field of an options class: name, base type, default and spec."""

    name: str
    kind: type
    default: Any
    spec: Spec

    @property
    def label(self) -> str:
        return self.spec.label or self.name.replace("_", " ").capitalize()

    @property
    def flag(self) -> str:
        return self.spec.flag or "--" + self.name.replace("_", "-")


def _base_type(hint: Any) -> type:
    """int for `int`, str for `str | None`, object for anything else (dicts, subjects...)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    first = typing.get_origin(args[0]) or args[0]
    return first if first in (int, float, str, bool) else object


@dataclass(frozen=True)
class Options:
    """Base of every backend's options: the seed every backend records (deterministic ones ignore it)."""

    backend: ClassVar[str] = ""

    seed: int = option(0, "random seed: the same seed gives the same result on the same device", minimum=0,
                       place="shared")

    @classmethod
    def infos(cls) -> list[OptionInfo]:
        hints = typing.get_type_hints(cls)
        return [OptionInfo(f.name, _base_type(hints[f.name]), f.default, f.metadata["spec"])
                for f in dataclasses.fields(cls)]

    @classmethod
    def info(cls, name: str) -> OptionInfo:
        for info in cls.infos():
            if info.name == name:
                return info
        raise KeyError(f"{cls.__name__} has no option {name!r}")

    def validate(self) -> None:
        """Raise an InputError naming the option (and its flag) when a value is out of range or not a choice."""
        for info in self.infos():
            value, spec = getattr(self, info.name), info.spec
            if value is None:
                continue
            where = f"{info.name} ({info.flag})"
            if spec.choices and value not in spec.choices:
                raise InputError(f"{where}: {value!r} is not one of {', '.join(spec.choices)}")
            if info.kind in (int, float):
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise InputError(f"{where}: expected a number, got {value!r}")
                low, high = spec.minimum, spec.maximum
                if (low is not None and value < low) or (high is not None and value > high):
                    raise InputError(f"{where} must be in [{_num(low)}, {_num(high)}], got {_num(value)}")

    def pipeline_kwargs(self) -> dict[str, Any]:
        """The values the pipeline takes by keyword (options declared `to_pipeline=True`)."""
        return {i.name: getattr(self, i.name) for i in self.infos() if i.spec.to_pipeline}

    def to_record(self) -> dict[str, Any]:
        """The options as run.json stores them (values only JSON can hold; others by type name)."""
        return {i.name: _jsonable(getattr(self, i.name)) for i in self.infos()}


def _num(value: float | None) -> str:
    return "…" if value is None else f"{value:g}"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return type(value).__name__


def is_set(value: Any) -> bool:
    """A value the user set: not None and not an empty or blank string."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def options_for(cls: type[OptionsT], choices: Mapping[str, Any] | None = None) -> OptionsT:
    """The class's defaults with what the user set merged over them, validated.

    A choice the class does not have is ignored (`--steps` does not concern the warp baseline); an option that
    `follow`s a shared one takes the shared value when it is not set itself. Numbers are cast to the field's type
    (UI number fields send floats)."""
    choices = {k: v for k, v in (choices or {}).items() if is_set(v)}
    values: dict[str, Any] = {}
    for info in cls.infos():
        value = choices.get(info.name)
        if value is None and info.spec.follow is not None:
            value = choices.get(info.spec.follow)
        if value is None:
            continue
        if info.kind in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
            if info.kind is int and value != int(value):
                raise InputError(f"{info.name} ({info.flag}) must be a whole number, got {value:g}")
            value = info.kind(value)
        elif info.kind is str and isinstance(value, str):
            value = value.strip()
        values[info.name] = value
    options = cls(**values)
    options.validate()
    return options


# -- which class belongs to which backend --------------------------------------------------------------------------
# Light modules, importable without the backends (the CLI's --help and the app's page need no model library).
_CLASS_PATHS: dict[str, str] = {name: paths[1] for name, paths in BUILTIN.items()}
_registered: dict[str, type[Options]] = {}
BUILTIN_NAMES = tuple(_CLASS_PATHS)


def options_class(name: str) -> type[Options]:
    """The options class of a backend name (a backend installed without one, e.g. a test stand-in: the seed)."""
    if name in _registered:
        return _registered[name]
    if name not in _CLASS_PATHS:
        return Options
    module_name, _, class_name = _CLASS_PATHS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def register_options(name: str, cls: type[Options]) -> None:
    """Use `cls` for a backend name (`tryon.backends.base.set_backend` registers the installed backend's class)."""
    _registered[name] = cls


def builtin_classes() -> list[type[Options]]:
    return [options_class(name) for name in _CLASS_PATHS]


# -- the CLI -----------------------------------------------------------------------------------------------------
def shared_infos(classes: Iterator[type[Options]] | list[type[Options]]) -> dict[str, tuple[OptionInfo, dict]]:
    """Each shared option once, with its default per backend (for the help text)."""
    shared: dict[str, tuple[OptionInfo, dict]] = {}
    for cls in classes:
        for info in cls.infos():
            if info.spec.place == "shared":
                shared.setdefault(info.name, (info, {}))[1][cls.backend] = info.default
    return shared


def shared_help(name: str, info: OptionInfo, defaults: dict[str, Any], classes: list[type[Options]]) -> str:
    """The help of a shared option (CLI flag, UI field): each backend's default, and the options that follow it when
    unset."""
    if len(defaults) == len(classes) and len(set(map(repr, defaults.values()))) == 1:
        text = f"default {next(iter(defaults.values()))}"
    else:
        text = "default: " + ", ".join(f"{backend} {value}" for backend, value in defaults.items())
    followers = [f"{cls.backend} {i.flag}" for cls in classes for i in cls.infos() if i.spec.follow == name]
    if followers:
        text += "; also sets " + ", ".join(followers) + " where that is unset"
    return f"{info.spec.help} ({text})"


def _add_flag(group: argparse._ArgumentGroup, info: OptionInfo, help_text: str) -> None:
    kwargs: dict[str, Any] = {"dest": info.name, "default": None, "help": help_text}
    if info.kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif info.spec.read_file is not None:
        kwargs["metavar"] = "FILE"
    elif info.kind in (int, float):
        kwargs["type"] = info.kind
    if info.spec.choices:
        kwargs["choices"] = info.spec.choices
    group.add_argument(info.flag, **kwargs)


def cli_flags(parser: argparse.ArgumentParser, classes: list[type[Options]], with_files: bool = True) -> None:
    """Add the shared flags and one group per backend with its own flags; every flag defaults to None (unset)."""
    common = parser.add_argument_group("options of every backend (unset: each backend's default)")
    for name, (info, defaults) in shared_infos(classes).items():
        _add_flag(common, info, shared_help(name, info, defaults, classes))
    for cls in classes:
        own = [i for i in cls.infos() if i.spec.place in ("panel", "cli")
               and (with_files or i.spec.read_file is None)]
        if not own:
            continue
        group = parser.add_argument_group(f"{cls.backend} options")
        for info in own:
            default = "" if info.default is None else f" (default {info.default})"
            follow = f" (unset: --{info.spec.follow}, else {info.default})" if info.spec.follow else default
            _add_flag(group, info, info.spec.help + follow)


def choices_from_args(args: argparse.Namespace, classes: list[type[Options]], person: str | None = None,
                      garment: str | None = None) -> dict[str, Any]:
    """What the user set on the command line; file flags are read here (with the photos' names as keys)."""
    choices: dict[str, Any] = {}
    for cls in classes:
        for info in cls.infos():
            value = getattr(args, info.name, None)
            if value is None or info.name in choices:
                continue
            if info.spec.read_file is not None:
                value = info.spec.read_file(Path(value), Path(person).stem if person else None,
                                            Path(garment).stem if garment else None)
            choices[info.name] = value
    return choices


# -- the docs ------------------------------------------------------------------------------------------------------
def markdown_table(cls: type[Options]) -> str:
    """The docs' option table of one backend, generated from the class (docs/backends/*.md embed it)."""
    rows = ["| option | CLI flag | default | range | meaning |", "|---|---|---|---|---|"]
    for info in cls.infos():
        spec = info.spec
        if spec.choices:
            allowed = ", ".join(f"`{c}`" for c in spec.choices)
        elif spec.minimum is not None or spec.maximum is not None:
            allowed = f"{_num(spec.minimum)} .. {_num(spec.maximum)}"
        else:
            allowed = ""
        flag = "(Python only)" if spec.place == "api" else f"`{info.flag}`"
        follow = f" (unset: `{spec.follow}`)" if spec.follow else ""
        default = "-" if info.default is None else f"`{info.default}`"
        rows.append(f"| `{info.name}` | {flag} | {default}{follow} | {allowed} | {spec.help} |")
    return "\n".join(rows)


def docs_path(name: str) -> Path:
    """The backend's page in docs/backends/ (its option table lives between `<!-- options -->` markers)."""
    return Path(__file__).resolve().parents[1] / "docs" / "backends" / f"{name.replace('-', '_').rstrip('+')}.md"


def write_docs_table(name: str) -> bool:
    """Replace the table between the page's `<!-- options -->` and `<!-- /options -->` markers; True if it changed."""
    path = docs_path(name)
    text = path.read_text()
    start, end = "<!-- options -->", "<!-- /options -->"
    if start not in text or end not in text:
        raise InputError(f"{path}: no {start} ... {end} markers to put the option table between")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    updated = f"{head}{start}\n{markdown_table(options_class(name))}\n{end}{tail}"
    path.write_text(updated)
    return updated != text
