"""``pad_sequences``: Keras's padding of integer sequences to one length."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnguru.errors import NNGuruError, describe


def pad_sequences(sequences: Sequence, maxlen: int | None = None, dtype: str = "int32", padding: str = "pre",
                  truncating: str = "pre", value: float = 0.0) -> np.ndarray:
    """``(n, maxlen)`` array: each sequence cut to ``maxlen`` and padded with ``value``.

    ``padding``/``truncating`` ``'pre'`` (Keras's default) pads or cuts at the start, ``'post'``
    at the end; ``maxlen=None`` is the longest sequence.
    """
    for name, choice in (("padding", padding), ("truncating", truncating)):
        if choice not in ("pre", "post"):
            raise NNGuruError(f"pad_sequences({name}=...) must be 'pre' or 'post'; received {describe(choice)}.")
    if not hasattr(sequences, "__len__"):
        raise NNGuruError(f"pad_sequences needs a list of sequences; received {describe(sequences)}.")
    lengths = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise NNGuruError(f"pad_sequences: sequences[{i}] is not a sequence; received {describe(s)}.")
        lengths.append(len(s))
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise NNGuruError(f"pad_sequences(maxlen=...) must be a non-negative int or None; received {describe(maxlen)}.")
    sample_shape = next((np.asarray(s).shape[1:] for s in sequences if len(s)), ())
    out = np.full((len(sequences), maxlen, *sample_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or maxlen == 0:
            continue
        kept = np.asarray(s, dtype=dtype)
        kept = kept[-maxlen:] if truncating == "pre" else kept[:maxlen]
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, -len(kept):] = kept
    return out
