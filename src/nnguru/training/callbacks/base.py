"""Callback base class and the list that dispatches hooks to callbacks.

Callbacks talk to the loop only through Keras's hooks, the ``logs`` dict and
``model.stop_training``. Under DistributedDataParallel every rank calls the hooks; callbacks that
write files or print set ``main_process_only`` so only rank 0 runs them. Hooks run outside the
loop's ``model.loss_outputs()``: a callback's ``model.predict`` or ``model(x)`` sees the full
outputs (probabilities from a softmax layer), as in Keras.
"""

from __future__ import annotations

import contextlib
from typing import Any


class Callback:
    """Override any of the ``on_*`` hooks; ``self.model`` and ``self.params`` are set by the loop.

    ``state_dict()`` / ``load_state_dict()`` carry what the callback has learned so far (a best
    value, a patience counter) through a checkpoint, so a resumed ``fit`` decides as the
    uninterrupted one would. By default they hold the attributes named in ``state_attrs``:
    tensors, numbers, strings and lists/dicts of them.
    """

    main_process_only = False
    state_attrs: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def state_dict(self) -> dict:
        return {k: getattr(self, k, None) for k in self.state_attrs}

    def load_state_dict(self, state: dict) -> None:
        for k in self.state_attrs:
            if k in state:
                setattr(self, k, state[k])

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


def _overrides(cb: Callback, hook: str) -> bool:
    fn = getattr(cb, hook)  # a method, or a function set on the instance (LambdaCallback)
    return getattr(fn, "__func__", fn) is not getattr(Callback, hook) and hook not in getattr(cb, "ignored_hooks", ())


class CallbackList:
    """Calls each hook on every callback, in order; batch hooks only where someone listens."""

    def __init__(self, callbacks: list[Callback], model: Any, params: dict, is_main: bool = True) -> None:
        self.model = model
        self.callbacks = [cb for cb in callbacks if is_main or not cb.main_process_only]
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        # Per-batch logs cost a host sync; build them only when a callback reads them.
        self.batch_begin = [cb for cb in self.callbacks if _overrides(cb, "on_train_batch_begin")]
        self.batch_end = [cb for cb in self.callbacks if _overrides(cb, "on_train_batch_end")]

    def _full_outputs(self):
        full = getattr(self.model, "full_outputs", None)  # plain torch modules have no fused activation
        return full() if full is not None else contextlib.nullcontext()

    def __iter__(self):
        return iter(self.callbacks)

    def _keys(self) -> list[str]:
        """Each callback's key in a checkpoint: class name and its count among that class, so
        the rank-0-only callbacks missing on other ranks shift no one else's state."""
        seen: dict[str, int] = {}
        keys = []
        for cb in self.callbacks:
            name = type(cb).__name__
            keys.append(f"{name}:{seen.get(name, 0)}")
            seen[name] = seen.get(name, 0) + 1
        return keys

    def state_dict(self) -> dict:
        return {key: cb.state_dict() for key, cb in zip(self._keys(), self.callbacks, strict=True)}

    def load_state_dict(self, state: dict) -> None:
        for key, cb in zip(self._keys(), self.callbacks, strict=True):
            if key in state:
                cb.load_state_dict(state[key])

    def on_train_begin(self, logs=None):
        with self._full_outputs():
            for cb in self.callbacks:
                cb.on_train_begin(logs)

    def on_train_end(self, logs=None):
        with self._full_outputs():
            for cb in self.callbacks:
                cb.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        with self._full_outputs():
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        with self._full_outputs():
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        with self._full_outputs():
            for cb in self.batch_begin:
                cb.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        with self._full_outputs():
            for cb in self.batch_end:
                cb.on_train_batch_end(batch, logs)
