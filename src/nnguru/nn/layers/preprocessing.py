"""Preprocessing layers that learn from data with ``adapt``: Normalization and TextVectorization.

What they learn is saved with the model: Normalization's statistics as persistent buffers (in
the weights file), TextVectorization's vocabulary in the layer's JSON config (never pickled).
TextVectorization takes raw strings, which never become tensors: a model whose first layer has
``encode_host`` hands it the raw inputs on the host before making tensors (``Model._x_array``).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from nnguru.errors import NNGuruError, describe
from nnguru.nn.layers.base import Layer, Shape, register

EPSILON = 1e-7  # Keras's backend.epsilon(): the smallest standard deviation divided by


def _batches(data) -> Iterable[np.ndarray]:
    """An array (or anything array-like) is one batch; any other iterable yields batches
    (a ``(x, y)`` pair counts as its x, as Keras's adapt reads datasets)."""
    if isinstance(data, torch.Tensor):
        return [data.detach().cpu().numpy()]
    if hasattr(data, "to_numpy"):
        return [data.to_numpy()]
    if isinstance(data, (np.ndarray, list, tuple, str, bytes)):
        return [np.asarray(data)]
    if isinstance(data, Iterable):
        return (np.asarray(b[0] if isinstance(b, tuple) else b) for b in data)
    raise NNGuruError(f"adapt() needs an array or an iterable of batches; received {describe(data)}.")


@register
class Normalization(Layer):
    """``(x - mean) / sqrt(variance)`` per feature of ``axis`` (``-1``: the last; ``None``: one
    mean and variance for everything), from ``adapt(data)`` or given ``mean=``/``variance=``.
    ``invert=True`` maps back: ``mean + x * sqrt(variance)``."""

    supports_masking = True

    def __init__(self, axis: int | None = -1, mean=None, variance=None, invert: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if axis is not None and not isinstance(axis, int):
            raise NNGuruError(f"Normalization(axis=...) must be an int or None; received {describe(axis)}.")
        if (mean is None) != (variance is None):
            raise NNGuruError("Normalization needs both mean= and variance=, or neither (then call adapt(data)).")
        self.axis, self.invert = axis, bool(invert)
        self.mean_arg = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.variance_arg = None if variance is None else np.asarray(variance, dtype=np.float64)
        self._adapted: tuple[np.ndarray, np.ndarray, float] | None = None

    def _stat_shape(self, input_shape: Shape) -> tuple[int, ...]:
        """One statistic per entry of ``axis`` (Keras counts the batch axis), broadcastable to the inputs."""
        if self.axis is None:
            return ()
        a = self.axis % (len(input_shape) + 1) - 1
        if a < 0:
            raise NNGuruError(f"Normalization(axis={self.axis}) is the batch axis of inputs shaped (batch, "
                              f"{', '.join(map(str, input_shape))}); pick a feature axis, e.g. -1.")
        return (input_shape[a],) + (1,) * (len(input_shape) - 1 - a)

    def build(self, input_shape: Shape) -> None:
        shape = self._stat_shape(input_shape)
        mean, var, count = np.zeros(shape), np.ones(shape), 0.0
        if self.mean_arg is not None:
            size = int(np.prod(shape))
            mean = np.broadcast_to(self.mean_arg.reshape(-1), (size,)) if self.mean_arg.size > 1 else self.mean_arg
            var = (np.broadcast_to(self.variance_arg.reshape(-1), (size,)) if self.variance_arg.size > 1
                   else self.variance_arg)
            mean, var = np.broadcast_to(mean, (size,)), np.broadcast_to(var, (size,))
        if self._adapted is not None:
            mean, var, count = self._adapted
        self.register_buffer("mean", torch.as_tensor(np.array(mean, dtype=np.float32).reshape(shape)))
        self.register_buffer("variance", torch.as_tensor(np.array(var, dtype=np.float32).reshape(shape)))
        self.register_buffer("count", torch.tensor(float(count)))

    def adapt(self, data, batch_size: int | None = None, steps: int | None = None) -> Normalization:
        """Learn the mean and (biased) variance of ``data``: an array, or an iterable of batches."""
        n, total, squares, sample_shape = 0, None, None, None
        for i, batch in enumerate(_batches(data)):
            if steps is not None and i >= steps:
                break
            b = batch.astype(np.float64)
            if b.ndim == 1 and self.axis is not None:
                b = b[:, None]
            sample_shape = sample_shape or tuple(b.shape[1:])
            axes = tuple(range(b.ndim)) if self.axis is None else tuple(
                a for a in range(b.ndim) if a != (self.axis % b.ndim))
            count = b.size // (1 if self.axis is None else b.shape[self.axis % b.ndim])
            s, q = b.sum(axis=axes), np.square(b).sum(axis=axes)
            n, total, squares = n + count, s if total is None else total + s, q if squares is None else squares + q
        if not n:
            raise NNGuruError("Normalization.adapt() received no data; pass an array of samples.")
        mean = total / n
        var = np.maximum(squares / n - mean ** 2, 0.0)
        self._adapted = (mean, var, float(n))
        if not self.built and sample_shape:  # Keras builds the layer in adapt: layer.mean is readable now
            self.ensure_built(sample_shape)
        elif self.built:
            shape = tuple(self.mean.shape)
            if mean.size != int(np.prod(shape)):
                raise NNGuruError(f"Normalization.adapt() data has {mean.size} features; the layer was built "
                                  f"for {int(np.prod(shape))}.")
            with torch.no_grad():
                self.mean.copy_(torch.as_tensor(mean.reshape(shape), dtype=torch.float32))
                self.variance.copy_(torch.as_tensor(var.reshape(shape), dtype=torch.float32))
                self.count.fill_(float(n))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = self.variance.sqrt().clamp(min=EPSILON)
        return self.mean + x * std if self.invert else (x - self.mean) / std

    def get_config(self) -> dict:
        config = {**super().get_config(), "axis": self.axis}
        if self.invert:
            config["invert"] = True
        if self.mean_arg is not None:
            config["mean"], config["variance"] = self.mean_arg.tolist(), self.variance_arg.tolist()
        return config


# Keras's DEFAULT_STRIP_REGEX: ASCII punctuation
STRIP_PUNCTUATION = re.compile("[" + re.escape(string.punctuation) + "]")
STANDARDIZE = {
    None: lambda s: s,
    "lower": str.lower,
    "strip_punctuation": lambda s: STRIP_PUNCTUATION.sub("", s),
    "lower_and_strip_punctuation": lambda s: STRIP_PUNCTUATION.sub("", s.lower()),
}
SPLIT = {None: lambda s: [s], "whitespace": str.split, "character": list}
OUTPUT_MODES = ("int", "multi_hot", "count", "tf_idf")
PAD, OOV = "", "[UNK]"


@register
class TextVectorization(Layer):
    """Raw strings -> token ids (``'int'``) or bag-of-words vectors (``'multi_hot'``, ``'count'``,
    ``'tf_idf'``), with Keras's vocabulary rules: ``adapt(texts)`` ranks tokens by frequency (ties:
    the larger string first, as Keras); in 'int' mode id 0 is padding ('') and 1 is '[UNK]', in the
    other modes index 0 is '[UNK]'. ``max_tokens`` caps the vocabulary including those.

    Encoding runs on the host (``encode_host``) before tensors are made, so the model's inputs
    may be a list or array of strings in fit/predict/evaluate.
    """

    def __init__(self, max_tokens: int | None = None, standardize: str | None = "lower_and_strip_punctuation",
                 split: str | None = "whitespace", ngrams: int | Sequence[int] | None = None,
                 output_mode: str = "int", output_sequence_length: int | None = None,
                 pad_to_max_tokens: bool = False, vocabulary: Sequence[str] | None = None,
                 idf_weights: Sequence[float] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        for arg, value, table in (("standardize", standardize, STANDARDIZE), ("split", split, SPLIT)):
            if arg == "standardize" and callable(value):
                continue  # Keras's custom standardization: fn(batch of strings) -> batch of strings
            if not (value is None or isinstance(value, str)) or value not in table:
                raise NNGuruError(
                    f"TextVectorization({arg}={value!r}) is not supported: nnguru stores the layer as JSON, so "
                    f"{arg} must be one of {', '.join(map(repr, table))}. Apply a custom function to the "
                    "texts before the model instead.")
        if output_mode not in OUTPUT_MODES:
            raise NNGuruError(f"TextVectorization output_mode must be one of {', '.join(map(repr, OUTPUT_MODES))}; "
                              f"received {output_mode!r}.")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < (3 if output_mode == "int"
                                                                                       else 2)):
            raise NNGuruError(f"TextVectorization max_tokens must be None or an int of at least 3 (two of them are "
                              f"the padding and '[UNK]' tokens); received {describe(max_tokens)}.")
        if output_sequence_length is not None and (output_mode != "int" or not isinstance(output_sequence_length, int)
                                                   or output_sequence_length < 1):
            raise NNGuruError("TextVectorization output_sequence_length must be a positive int, and applies to "
                              f"output_mode='int' only; received {describe(output_sequence_length)} with "
                              f"output_mode={output_mode!r}.")
        if pad_to_max_tokens and max_tokens is None:
            raise NNGuruError("TextVectorization(pad_to_max_tokens=True) needs max_tokens.")
        self.max_tokens, self.standardize, self.split = max_tokens, standardize, split
        self.ngrams = None if ngrams is None else (
            tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else tuple(int(n) for n in ngrams))
        self.output_mode, self.output_sequence_length = output_mode, output_sequence_length
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self._tokens: list[str] = []  # the learned vocabulary, without the special tokens
        self._idf: np.ndarray | None = None  # tf_idf: one weight per vocabulary index
        if vocabulary:
            self.set_vocabulary(vocabulary, idf_weights)

    # ---- vocabulary ------------------------------------------------------------------------
    def _specials(self) -> list[str]:
        return [PAD, OOV] if self.output_mode == "int" else [OOV]

    def tokenize(self, text: str) -> list[str]:
        """Standardize, split, then add the n-grams (all 1-grams first, as Keras)."""
        words = SPLIT[self.split](text if callable(self.standardize) else STANDARDIZE[self.standardize](text))
        if self.ngrams is None:
            return words
        return [" ".join(words[i:i + n]) for n in self.ngrams for i in range(len(words) - n + 1)]

    def _texts(self, data, arg: str) -> list[str]:
        arr = np.asarray(data.to_numpy() if hasattr(data, "to_numpy") else data, dtype=object)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise NNGuruError(f"TextVectorization expects {arg} as a list or 1-D array of strings (or shape "
                              f"(n, 1)); received an array of shape {arr.shape}.")
        out = []
        for t in arr:
            if isinstance(t, bytes):
                t = t.decode("utf-8")
            if not isinstance(t, str):
                raise NNGuruError(f"TextVectorization expects strings in {arg}; received {describe(t)}.")
            out.append(t)
        if callable(self.standardize):  # one call per batch, as Keras calls it
            done = np.asarray(self.standardize(np.asarray(out, dtype=object)), dtype=object).reshape(-1)
            if len(done) != len(out) or not all(isinstance(t, str) for t in done):
                raise NNGuruError(f"TextVectorization's standardize function must return one string per input "
                                  f"string; it returned {describe(done)} for {len(out)} strings.")
            out = list(done)
        return out

    def adapt(self, data, batch_size: int | None = None, steps: int | None = None) -> TextVectorization:
        """Learn the vocabulary (and tf-idf weights) from ``data``: strings, or an iterable of batches of them."""
        counts: Counter[str] = Counter()
        docs: Counter[str] = Counter()
        n_docs = 0
        batches = [data] if isinstance(data, (list, tuple, np.ndarray)) or hasattr(data, "to_numpy") else data
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            for text in self._texts(batch[0] if isinstance(batch, tuple) else batch, "adapt(data)"):
                tokens = self.tokenize(text)
                counts.update(tokens)
                docs.update(set(tokens))
                n_docs += 1
        for special in self._specials():
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[:self.max_tokens - len(self._specials())]
        self._tokens = [t for t, _ in ranked]
        if self.output_mode == "tf_idf":
            idf = np.log1p(n_docs / (1.0 + np.array([docs[t] for t in self._tokens], dtype=np.float64)))
            self._idf = np.concatenate([[idf.mean() if len(idf) else 0.0], idf])  # '[UNK]' gets the mean
        self._lookup = None
        return self

    def set_vocabulary(self, vocabulary: Sequence[str], idf_weights: Sequence[float] | None = None) -> None:
        """Use ``vocabulary`` (tokens in id order; leading '' / '[UNK]' entries are taken as the special ones)."""
        tokens = [str(t) for t in vocabulary]
        for special in self._specials():
            if tokens and tokens[0] == special:
                tokens = tokens[1:]
        if self.output_mode == "tf_idf":
            if idf_weights is None or len(idf_weights) not in (len(tokens), len(tokens) + 1):
                raise NNGuruError("TextVectorization(output_mode='tf_idf', vocabulary=...) needs idf_weights= with "
                                  "one weight per vocabulary token.")
            idf = np.asarray(idf_weights, dtype=np.float64)
            self._idf = idf if len(idf) == len(tokens) + 1 else np.concatenate([[idf.mean()], idf])
        self._tokens = tokens
        self._lookup = None

    def get_vocabulary(self) -> list[str]:
        """Tokens in id order, special tokens included (Keras's ``get_vocabulary()``)."""
        return self._specials() + self._tokens

    def vocabulary_size(self) -> int:
        return len(self._specials()) + len(self._tokens)

    # ---- encoding --------------------------------------------------------------------------
    def encode_host(self, x) -> np.ndarray:
        """Raw strings -> int64 ids ``(n, length)`` or float32 vectors ``(n, vocabulary)``."""
        if isinstance(x, np.ndarray) and x.dtype.kind in "iuf":
            return x  # already encoded (e.g. arrays handed back by a caller)
        if not self._tokens:
            raise NNGuruError("TextVectorization has no vocabulary: call layer.adapt(texts) (or pass "
                              "vocabulary=[...]) before fitting or predicting.")
        if getattr(self, "_lookup", None) is None:
            self._lookup = {t: i for i, t in enumerate(self.get_vocabulary())}
        lookup, oov = self._lookup, self.get_vocabulary().index(OOV)
        ids = [[lookup.get(t, oov) for t in self.tokenize(text)] for text in self._texts(x, "the inputs")]
        if self.output_mode == "int":
            length = self.output_sequence_length or max((len(i) for i in ids), default=1) or 1
            out = np.zeros((len(ids), length), dtype=np.int64)
            for row, seq in enumerate(ids):
                seq = seq[:length]
                out[row, :len(seq)] = seq
            return out
        width = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        out = np.zeros((len(ids), width), dtype=np.float32)
        for row, seq in enumerate(ids):
            np.add.at(out[row], seq, 1.0)
        if self.output_mode == "multi_hot":
            out = np.minimum(out, 1.0)
        elif self.output_mode == "tf_idf":
            out[:, :len(self._idf)] *= self._idf.astype(np.float32)
        return out

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.output_mode != "int":
            return (self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size(),)
        if self.output_sequence_length is not None:
            return (self.output_sequence_length,)
        return tuple(input_shape) or (1,)  # built from encoded ids: their length

    def forward(self, x):
        if isinstance(x, torch.Tensor):
            return x  # encoded on the host already (Model._x_array)
        return torch.as_tensor(self.encode_host(x))

    def get_config(self) -> dict:
        if callable(self.standardize):
            raise NNGuruError(
                f"TextVectorization(standardize={getattr(self.standardize, '__name__', self.standardize)!r}) "
                "holds a Python function, which nnguru does not store (model files are JSON and safetensors: "
                "loading never runs code). To save the model, standardize the texts before the model and use "
                "standardize=None or one of 'lower', 'strip_punctuation', 'lower_and_strip_punctuation'; "
                "or save the weights only (model.save_weights).")
        config = {**super().get_config(), "max_tokens": self.max_tokens, "standardize": self.standardize,
                  "split": self.split, "ngrams": list(self.ngrams) if self.ngrams else None,
                  "output_mode": self.output_mode, "output_sequence_length": self.output_sequence_length,
                  "pad_to_max_tokens": self.pad_to_max_tokens, "vocabulary": list(self._tokens)}
        if self._idf is not None:
            config["idf_weights"] = self._idf.tolist()
        return config
