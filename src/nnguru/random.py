"""``tf.random.set_seed`` / ``keras.random.SeedGenerator``-style seeding, for programs written as
``import tensorflow as tf`` and run with ``import nnguru as tf``."""

from __future__ import annotations


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch, as ``nnguru.set_seed`` (TensorFlow's ``tf.random.set_seed``)."""
    from nnguru import set_seed as _set_seed

    _set_seed(seed)
