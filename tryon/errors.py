"""Errors a user can act on.

Every failure that a person can fix (a bad file, a missing weight, a malformed dataset) is raised as an
`InputError` (or a subclass) carrying one line that names the file and what is wrong. The CLI turns it into
exit code 2 and the UI into a message; anything else is a bug and keeps its traceback in the logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# The roles a photo plays, as PhotoProblem messages name them.
PERSON_PHOTO, GARMENT_PHOTO = "person photo", "garment photo"


class InputError(ValueError):
    """A problem with what the user gave us; the message is one line fit to show as is."""


class WeightsMissing(InputError):
    """Weights a backend or metric needs are not in the cache; the message names the fetch command."""


class PhotoProblem(InputError):
    """What is wrong with a photo's content (no person, no separable garment), found by code that only has its
    pixels: it knows the photo's role but not its file. Whoever read the file re-raises it with the name through
    `naming`, so the user learns which file it is; where no file is known the message still names the role."""

    def __init__(self, role: str, problem: str) -> None:
        super().__init__(f"{role}: {problem}")
        self.role, self.problem = role, problem


@contextmanager
def naming(source: str) -> Iterator[None]:
    """Turn a PhotoProblem raised inside into an InputError naming the photo: `SOURCE (ROLE): problem`."""
    try:
        yield
    except PhotoProblem as exc:
        raise InputError(f"{source} ({exc.role}): {exc.problem}") from exc
