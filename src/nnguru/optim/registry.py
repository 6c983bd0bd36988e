"""Name -> optimizer factory, with option checking and a table of defaults.

A factory is called as ``factory(model, lr=..., **options)``; its keyword parameters (with their
defaults) *are* the options the optimizer accepts, so validation and documentation come from one
place. Names are case-insensitive and ``-``/``_``/space are equivalent.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from nnguru.errors import NNGuruError
from nnguru.errors import describe as received
from nnguru.optim import clipping
from nnguru.optim.base import ModelOptimizer, check_lr

Factory = Callable[..., "torch.optim.Optimizer | ModelOptimizer"]

# Spellings from torch (and Keras' learning_rate) accepted for the documented Keras names.
OPTION_ALIASES = {"eps": "epsilon", "alpha": "rho", "learning_rate": "lr"}


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Factory
    doc: str
    """When to choose it (one or two sentences)."""
    aliases: tuple[str, ...] = ()
    default_lr: float | str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """Accepted options and their defaults (from the factory's signature)."""
    any_options: bool = False
    """The factory takes ``**kwargs``: options are not checked here."""


_ENTRIES: dict[str, Entry] = {}
_LOOKUP: dict[str, str] = {}


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def register(
    name: str,
    factory: Factory,
    *,
    doc: str,
    aliases: tuple[str, ...] = (),
    default_lr: float | str | None = None,
    replace: bool = False,
) -> None:
    """Make ``factory`` available as ``optimizer=name`` (Python, config file and CLI).

    ``doc`` says when to choose the optimizer; ``default_lr`` overrides the learning rate shown
    in :func:`describe` when the factory's own ``lr`` default is ``None`` (method-dependent).
    """
    key = _key(name)
    if not replace and (key in _LOOKUP or any(_key(a) in _LOOKUP for a in aliases)):
        raise NNGuruError(f"optimizer name {name!r} (or one of its aliases {aliases}) is "
                          "already registered; pass replace=True to override it.")
    sig = inspect.signature(factory)
    params = list(sig.parameters.values())
    keyword = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    options = {p.name: p.default for p in params[1:] if p.kind in keyword and p.name != "lr"}
    any_options = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    if default_lr is None and "lr" in sig.parameters:
        lr_default = sig.parameters["lr"].default
        default_lr = None if lr_default is inspect.Parameter.empty else lr_default
    entry = Entry(key, factory, doc, tuple(_key(a) for a in aliases), default_lr, options,
                  any_options)
    _ENTRIES[key] = entry
    for k in (key, *entry.aliases):
        _LOOKUP[k] = key


def names() -> list[str]:
    """Registered optimizer names (aliases not included), in registration order."""
    return list(_ENTRIES)


def entry(name: str) -> Entry:
    """The registry entry for a name or alias; NNGuruError listing valid names otherwise."""
    if not isinstance(name, str):
        raise NNGuruError(f"optimizer must be a name, a dict with a 'name' key, or an optimizer "
                          f"object; received {received(name)}. Valid names: "
                          f"{', '.join(names())}.")
    key = _LOOKUP.get(_key(name))
    if key is None:
        close = difflib.get_close_matches(_key(name), list(_LOOKUP), n=1)
        hint = f" Did you mean {_LOOKUP[close[0]]!r}?" if close else ""
        aliases = ", ".join(f"{a}={e.name}" for e in _ENTRIES.values() for a in e.aliases)
        raise NNGuruError(f"unknown optimizer {name!r}.{hint} Valid names: "
                          f"{', '.join(names())} (aliases: {aliases}). See "
                          "nnguru.optim.describe() for when to use each.")
    return _ENTRIES[key]


def get(spec: Any, model: torch.nn.Module, lr: float | None = None,
        **options: Any) -> torch.optim.Optimizer | ModelOptimizer:
    """Build the optimizer named by ``spec`` for ``model``.

    ``spec``: a registered name or alias, a dict ``{"name": ..., **options}`` (as in a config
    file), or an already built ``torch.optim.Optimizer`` / ``ModelOptimizer`` (returned as is).
    ``lr=None`` means the optimizer's documented default. Unknown names and options that do not
    apply to the optimizer raise :class:`~nnguru.errors.NNGuruError` naming the valid ones.
    """
    if isinstance(spec, (torch.optim.Optimizer, ModelOptimizer)):
        if lr is not None or options:
            given = ", ".join((["lr"] if lr is not None else []) + sorted(options))
            raise NNGuruError(f"optimizer: options ({given}) cannot be applied to an optimizer "
                              f"object that is already built ({type(spec).__name__}); set them "
                              "when you construct it, or pass the optimizer by name.")
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        if "name" not in spec:
            raise NNGuruError(f"optimizer given as a dict needs a 'name' key; received "
                              f"{received(spec)}. Example: {{'name': 'sgd', 'momentum': 0.9}}.")
        name = spec.pop("name")
        options = {**spec, **options}
    else:
        name = spec
    e = entry(name)
    options = dict(options)
    clip = clipping.pop_clipping(options, f"optimizer {e.name!r}")  # Keras's clipnorm & co, any optimizer
    options = _canonical_options(e, options)
    if "lr" in options:
        if lr is not None and options["lr"] != lr:
            raise NNGuruError(f"optimizer {e.name!r}: the learning rate is given twice "
                              f"(lr={lr!r} and {options['lr']!r}); give it once.")
        lr = options.pop("lr")
    if lr is not None:
        check_lr(lr, e.name)
        options["lr"] = float(lr)
    try:
        return clipping.attach(e.factory(model, **options), clip, e.name)
    except NNGuruError:
        raise
    except (TypeError, ValueError) as exc:  # torch's own value checks, e.g. momentum < 0
        raise NNGuruError(f"optimizer {e.name!r}: {exc}. Options and defaults: "
                          f"{_format_options(e)}.") from exc


def _canonical_options(e: Entry, options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        canon = key if key in e.options or e.any_options else OPTION_ALIASES.get(key, key)
        if canon == "betas" and "beta_1" in e.options:
            try:
                out["beta_1"], out["beta_2"] = value
            except (TypeError, ValueError):
                raise NNGuruError(f"optimizer {e.name!r}: option 'betas' must be a pair "
                                  f"(beta_1, beta_2); received {received(value)}.") from None
            continue
        if canon != "lr" and not e.any_options and canon not in e.options:
            users = [x.name for x in _ENTRIES.values() if canon in x.options]
            elsewhere = (f" Optimizers that accept {canon!r}: {', '.join(users)}."
                         if users else "")
            raise NNGuruError(f"option {key!r} does not apply to optimizer {e.name!r}. "
                              f"{e.name!r} accepts: {_format_options(e)}.{elsewhere}")
        if canon in out:
            raise NNGuruError(f"optimizer {e.name!r}: option {canon!r} is given twice "
                              f"(once as {key!r}); give it once.")
        out[canon] = value
    return out


def _format_options(e: Entry) -> str:
    opts = [f"lr={e.default_lr}"] + [f"{k}={v!r}" for k, v in e.options.items()]
    return ", ".join(opts)


def table() -> list[dict[str, Any]]:
    """One row per optimizer: name, aliases, default lr, batch use, options, when to choose."""
    from nnguru.optim.base import ModelOptimizer as _MO

    rows = []
    for e in _ENTRIES.values():
        cls = e.factory if isinstance(e.factory, type) else None
        if cls is not None and issubclass(cls, _MO):
            batch = ("full batch" if cls.full_batch else
                     f"batches of {cls.preferred_batch_size}" if cls.preferred_batch_size
                     else "mini-batches")
        else:
            batch = "mini-batches"
        rows.append({"name": e.name, "aliases": list(e.aliases), "lr": e.default_lr,
                     "batch": batch, "options": dict(e.options), "when": e.doc})
    return rows


def describe(name: str | None = None) -> str:
    """Plain-text table of the optimizers (or one optimizer's options) for help texts."""
    if name is not None:
        e = entry(name)
        lines = [f"{e.name}" + (f" (aliases: {', '.join(e.aliases)})" if e.aliases else ""),
                 f"  {e.doc}", f"  lr default: {e.default_lr}"]
        lines += [f"  {k} = {v!r}" for k, v in e.options.items()]
        return "\n".join(lines)
    rows = table()
    cols = [[r["name"] for r in rows], [f"lr={r['lr']}" for r in rows], [r["batch"] for r in rows]]
    widths = [max(len(c) for c in col) for col in cols]
    out = []
    for i, r in enumerate(rows):
        cells = [col[i].ljust(w) for col, w in zip(cols, widths, strict=True)]
        out.append("  ".join([*cells, r["when"]]))
    return "\n".join(out)
