"""Keras's ``models`` namespace: ``from nnguru.models import Sequential, Model, load_model``."""

from __future__ import annotations

from nnguru.bundle import load_model
from nnguru.keras_names import module_getattr
from nnguru.nn.model import Model
from nnguru.nn.sequential import Sequential

__all__ = ["Model", "Sequential", "load_model"]
__getattr__ = module_getattr("models", __name__)
