"""Featurizers: turn one kind of raw input (files, text, table columns) into float32 arrays.

Every featurizer follows the same small contract so the preprocessor can treat them alike:
``fit(values)`` learns from the training split only, ``transform(values)`` returns float32,
``config()`` is pure JSON, ``state()`` is a dict of arrays, and ``from_config(config, state)``
rebuilds an identical featurizer (no pickle anywhere).
"""
