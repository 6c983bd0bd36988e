"""Tasks as plug-ins: each task is one module that owns everything that varies by task.

The pipeline (``nnguru.pipeline``) asks the run's task object; it never branches on a task's name
(scikit-learn's estimator protocol with task mixins is the model). A task owns: validating,
encoding and decoding the target; the split rule; the model head, loss and metrics; evaluation
and its baselines; its plots and report cards; the guru rules that apply; the columns ``predict``
writes. See :class:`nnguru.tasks.base.Task`.

Adding a task is one new module and a registration::

    from nnguru.tasks import register
    from nnguru.tasks.base import Task

    @register
    class Ranking(Task):
        name = "ranking"
        ...

``--task auto`` asks each registered task, in the order of its ``auto_rank``, whether the data is plainly
its kind (:meth:`Task.fits`); the first that says yes wins. A task that is only plausible adds a
warning instead (:meth:`Task.hint`), so the user learns how to ask for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnguru.errors import NNGuruError

if TYPE_CHECKING:
    from nnguru.data.types import Dataset
    from nnguru.tasks.base import Task

_REGISTRY: dict[str, type[Task]] = {}
_ALIASES: dict[str, str] = {}


def register(cls: type[Task]) -> type[Task]:
    """Add a task class under ``cls.name`` (and ``cls.aliases``); usable as a decorator."""
    _REGISTRY[cls.name] = cls
    for alias in cls.aliases:
        _ALIASES[alias] = cls.name
    return cls


def names() -> list[str]:
    """The registered task names, in the order ``auto`` tries them."""
    _load_builtin()
    return [cls.name for cls in sorted(_REGISTRY.values(), key=lambda cls: cls.auto_rank)]


def get(name: str | Task | type[Task]) -> type[Task]:
    """The task class registered as ``name`` (or an alias such as "binary")."""
    from nnguru.tasks.base import Task

    if isinstance(name, Task):
        return type(name)
    if isinstance(name, type) and issubclass(name, Task):
        return name
    _load_builtin()
    key = _ALIASES.get(str(name), str(name))
    if key not in _REGISTRY:
        raise NNGuruError(f"Unknown task {name!r}. Valid tasks: {', '.join(_REGISTRY)} (or 'auto').")
    return _REGISTRY[key]


def check(task: str | None) -> str | None:
    """The canonical task name, or None for 'auto'; an unknown name is refused with the valid ones."""
    if task is None or task == "auto":
        return None
    return get(task).name


def infer(ds: Dataset) -> tuple[type[Task], list[str]]:
    """The task ``auto`` picks for ``ds``, and warnings from tasks the data may also be meant for."""
    _load_builtin()
    order = sorted(_REGISTRY.values(), key=lambda cls: cls.auto_rank)
    chosen = next((cls for cls in order if cls.fits(ds)), None)
    if chosen is None:
        raise NNGuruError(f"No task fits {ds.name!r} on its own (it has no target?). Pass --task with one "
                          f"of {', '.join(cls.name for cls in order)}.")
    hints = [h for cls in order if cls is not chosen and (h := cls.hint(ds))]
    return chosen, hints


def check_options(task: type[Task], cfg: dict, defaults: dict) -> None:
    """Refuse options that only another task reads (``--horizon`` for a classification run)."""
    _load_builtin()
    for other in _REGISTRY.values():
        for key in set(other.options) - set(task.options):
            if cfg.get(key) != defaults.get(key):
                flag = "--" + key.replace("_", "-")
                raise NNGuruError(f"{flag} {cfg[key]!r} applies to the {other.name} task; this run's task is "
                                  f"{task.name}. Remove {flag}, or pass --task {other.name}.")


def categorical_target(task: str | None, y) -> bool:
    """Whether the target holds class labels: the given task's answer, else the inferred one."""
    from nnguru.tasks.classification import looks_categorical

    return get(task).categorical_target if check(task) else looks_categorical(y)


def _load_builtin() -> None:
    # Built-in tasks register on import (their ``auto_rank`` orders them for ``auto``).
    import nnguru.tasks.anomaly  # noqa: F401
    import nnguru.tasks.classification  # noqa: F401
    import nnguru.tasks.cluster  # noqa: F401
    import nnguru.tasks.forecast  # noqa: F401
    import nnguru.tasks.regression  # noqa: F401
