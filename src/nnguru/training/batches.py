"""The loop's second data kind: a stream of ready batches (Keras's generators and datasets).

``training/loop.py`` trains on one of two kinds of data:

- ``TensorData`` (in ``loop.py``): the whole set on the training device; batches are index
  gathers from a per-epoch permutation. The fast path for data that fits in memory.
- a **batch stream**, any object with this small protocol::

      steps: int | None          # batches per epoch; None = until the source is exhausted
      weighted: bool             # batches carry per-sample weights (decided by the first batch)
      def first() -> (x, y, w)   # the first batch, without consuming it (the loop picks its step)
      def epoch(epoch) -> Iterator[(x, y, w)]   # this epoch's batches, device tensors

  :class:`BatchStream` adapts a Python generator, iterator or re-iterable (a list of batches,
  a ``torch.utils.data.DataLoader``, a Keras-style ``Sequence`` with ``__len__``/``__getitem__``)
  yielding ``(x, y)`` or ``(x, y, w)``. Streams that read data larger than memory implement the
  same protocol and train through the same loop.

As in Keras, a one-shot iterator continues across epochs (``steps_per_epoch`` batches each), and
a re-iterable source starts again every epoch. An epoch that gets no batch at all stops training
("your input ran out of data").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from nnguru.errors import NNGuruError, describe

Batch = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]
Convert = Callable[[Any, Any, Any], Batch]


def is_batch_source(x: Any) -> bool:
    """True for what Keras's ``fit(x)`` reads as a source of batches rather than an array.

    Generators, iterators, DataLoaders and other iterables that are not arrays, tensors, tables
    or plain sequences of numbers; a list or tuple counts only when its items are ``(x, y[, w])``
    pairs, and a Keras-style ``Sequence`` (``__len__`` and ``__getitem__`` returning batches) too.
    """
    if x is None or isinstance(x, (str, bytes, dict, torch.Tensor)) or hasattr(x, "__array__"):
        return False
    if hasattr(x, "to_numpy"):  # pandas
        return False
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(isinstance(b, (tuple, list)) and len(b) in (2, 3)
                                  and hasattr(b[0], "__len__") for b in x)
    return isinstance(x, Iterable) or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def _unpack(item: Any, where: str) -> tuple[Any, Any, Any]:
    if isinstance(item, (tuple, list)) and len(item) in (2, 3):
        return item[0], item[1], item[2] if len(item) == 3 else None
    raise NNGuruError(
        f"Each batch from {where} must be a tuple (x, y) or (x, y, sample_weight); received "
        f"{describe(item)}. Make the generator `yield x_batch, y_batch`."
    )


class BatchStream:
    """``(x, y[, w])`` batches from a Python source, converted to device tensors by ``convert``."""

    def __init__(self, source: Any, convert: Convert, steps: int | None = None, where: str = "x") -> None:
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
            raise NNGuruError(f"steps_per_epoch / validation_steps must be a positive int or None; "
                              f"received {describe(steps)}.")
        self.source, self.convert, self.steps, self.where = source, convert, steps, where
        self.sequence = not isinstance(source, Iterable)  # only __len__/__getitem__ (a Keras Sequence)
        self.reiterable = self.sequence or iter(source) is not source
        self._iterator: Iterator | None = None
        self._pending: Batch | None = None  # the first batch, converted, not yet trained on
        self.weighted = False

    def _items(self) -> Iterator:
        if self.sequence:
            return (self.source[i] for i in range(len(self.source)))
        return iter(self.source)

    def _next_raw(self) -> Any:
        if self._iterator is None:
            self._iterator = self._items()
        return next(self._iterator)

    def _convert(self, item: Any) -> Batch:
        x, y, w = _unpack(item, self.where)
        batch = self.convert(x, y, w)
        if (batch[2] is not None) != self.weighted:
            raise NNGuruError(f"Batches from {self.where} must all carry sample weights (x, y, w) or none "
                              "(x, y); this one differs from the first.")
        return batch

    def first(self) -> Batch:
        if self._pending is None:
            try:
                item = self._next_raw()
            except StopIteration:
                raise NNGuruError(f"{self.where} yielded no batches; it must yield (x, y) tuples.") from None
            self.weighted = _unpack(item, self.where)[2] is not None
            self._pending = self._convert(item)
        return self._pending

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """This epoch's batches: at most ``steps``; a re-iterable source starts over each epoch."""
        if self.reiterable and self._pending is None:
            self._iterator = self._items()
        produced = 0
        while self.steps is None or produced < self.steps:
            if self._pending is not None:
                batch, self._pending = self._pending, None
            else:
                try:
                    batch = self._convert(self._next_raw())
                except StopIteration:
                    break
            produced += 1
            yield batch
        if self.reiterable:
            self._iterator = None

    def __len__(self) -> int:
        """Batches per epoch when known (``steps``, or the length of a sized source)."""
        if self.steps is not None:
            return self.steps
        if hasattr(self.source, "__len__"):
            return len(self.source)
        raise TypeError("a stream without steps has no known length")

