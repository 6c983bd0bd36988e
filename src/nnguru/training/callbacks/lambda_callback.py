"""LambdaCallback: a callback from plain functions, as in Keras."""

from __future__ import annotations

from collections.abc import Callable

from nnguru.errors import NNGuruError, describe
from nnguru.training.callbacks.base import Callback

_HOOKS = ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end", "on_train_begin", "on_train_end")


class LambdaCallback(Callback):
    """``LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))``.

    Keras's signatures: ``on_epoch_begin/end(epoch, logs)``, ``on_batch_begin/end(batch, logs)``,
    ``on_train_begin/end(logs)``. Only the hooks given run; batch hooks cost a host sync per
    step (the batch's loss), so they are attached only when passed.
    """

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_batch_begin: Callable | None = None, on_batch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None, **kwargs) -> None:
        super().__init__()
        given = dict(zip(_HOOKS, (on_epoch_begin, on_epoch_end, on_batch_begin, on_batch_end, on_train_begin,
                                  on_train_end), strict=True))
        for name, fn in {**given, **kwargs}.items():
            if name not in _HOOKS and name not in ("on_train_batch_begin", "on_train_batch_end"):
                raise NNGuruError(f"LambdaCallback got an unknown hook {name!r}; valid: {', '.join(_HOOKS)}.")
            if fn is not None and not callable(fn):
                raise NNGuruError(f"LambdaCallback({name}=...) must be a function; received {describe(fn)}.")
        # The loop only sends per-batch logs to callbacks that override these hooks, so attach
        # them per instance: an unused batch hook costs nothing.
        batch_begin = kwargs.get("on_train_batch_begin") or on_batch_begin
        batch_end = kwargs.get("on_train_batch_end") or on_batch_end
        self._fns = {k: v for k, v in given.items() if v is not None}
        if batch_begin is not None:
            self.on_train_batch_begin = lambda batch, logs=None: batch_begin(batch, logs)
        if batch_end is not None:
            self.on_train_batch_end = lambda batch, logs=None: batch_end(batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        if "on_epoch_begin" in self._fns:
            self._fns["on_epoch_begin"](epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if "on_epoch_end" in self._fns:
            self._fns["on_epoch_end"](epoch, logs)

    def on_train_begin(self, logs=None):
        if "on_train_begin" in self._fns:
            self._fns["on_train_begin"](logs)

    def on_train_end(self, logs=None):
        if "on_train_end" in self._fns:
            self._fns["on_train_end"](logs)
