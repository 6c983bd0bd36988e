"""One exception type for bad user input.

The CLI turns :class:`NNGuruError` into a one-paragraph message and exit code 2; any other
exception is a bug in nnguru and keeps its traceback.
"""

from __future__ import annotations


class NNGuruError(ValueError):
    """Bad input from the user: the message names the input, what was received and the fix."""


def describe(value: object, limit: int = 60) -> str:
    """Short repr of a received value for error messages (type included)."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} (of type {type(value).__name__})"
