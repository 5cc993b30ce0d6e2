"""Errors a user can act on.

Every failure that a person can fix (a bad file, a missing weight, a malformed dataset) is raised as an
`InputError` (or a subclass) carrying one line that names the file and what is wrong. The CLI turns it into
exit code 2 and the UI into a message; anything else is a bug and keeps its traceback in the logs.
"""

from __future__ import annotations


class InputError(ValueError):
    """A problem with what the user gave us; the message is one line fit to show as is."""


class WeightsMissing(InputError):
    """Weights a backend or metric needs are not in the cache; the message names the fetch command."""
