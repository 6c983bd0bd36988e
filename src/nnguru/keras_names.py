"""Keras names nnguru does not have: an ``AttributeError`` that says so and what to use instead.

``nnguru.layers.X``, ``nnguru.callbacks.X``, ``nnguru.utils.X``, ... for a Keras name nnguru
lacks raise :class:`UnsupportedKerasName` from the module's ``__getattr__`` (PEP 562), so a
tutorial stops at the line that needs the feature, with advice, instead of deep inside.
"""

from __future__ import annotations

from collections.abc import Callable

# Keras names per namespace that nnguru lacks -> the alternative ("" when there is none).
UNSUPPORTED: dict[str, dict[str, str]] = {
    "layers": {
        "RandomCrop": "RandomTranslation or RandomZoom, or crop the arrays before fit.",
        "RandomBrightness": "RandomContrast, or adjust the arrays before fit.",
        "LayerNormalization": "BatchNormalization, or a torch.nn.LayerNorm inside a Sequential.",
        "MultiHeadAttention": "a torch.nn.MultiheadAttention module wrapped in nnguru.Model.",
        "StringLookup": "encode labels as integers (nnguru.train does this for you).",
        "Lambda": "a torch.nn.Module with your forward() inside a Sequential.",
        "Conv3D": "torch.nn.Conv3d inside a Sequential (channels-first).",
    },
    "callbacks": {
        "ProgbarLogger": "fit(verbose=1) draws the progress bar.",
        "RemoteMonitor": "CSVLogger or TensorBoard.",
    },
    "utils": {
        "image_dataset_from_directory": "nnguru.train('folder/') on a folder of class subfolders.",
        "text_dataset_from_directory": "nnguru.train(...) on a table with a text column.",
        "timeseries_dataset_from_array": "nnguru.train(..., task='forecast').",
        "get_file": "download the file yourself (nnguru works offline), or nnguru.datasets.",
        "normalize": "sklearn.preprocessing.normalize.",
        "model_to_dot": "model.summary().",
        "Sequence": "any Python class with __len__ and __getitem__ returning (x, y) batches.",
        "PyDataset": "any Python class with __len__ and __getitem__ returning (x, y) batches.",
    },
    "losses": {
        "KLDivergence": "a custom loss function fn(y_true, y_pred) with torch operations.",
        "Hinge": "a custom loss function fn(y_true, y_pred) with torch operations.",
        "CosineSimilarity": "a custom loss function fn(y_true, y_pred) with torch operations.",
        "Poisson": "a custom loss function fn(y_true, y_pred) with torch operations.",
    },
    "metrics": {
        "MeanIoU": "", "Mean": "", "Sum": "", "CosineSimilarity": "",
    },
    "optimizers": {
        "Ftrl": "adam or adagrad.",
        "Lion": "adamw.",
    },
    "models": {
        "clone_model": "build the model again from the same code (or nnguru.load_model of a saved copy).",
        "model_from_json": "nnguru.load_model(path) of a folder written by model.save(path).",
    },
}


class UnsupportedKerasName(AttributeError):
    """A Keras name nnguru does not support; the message says what to use instead."""


def module_getattr(namespace: str, module: str) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``nnguru.<namespace>`` that explains missing Keras names."""
    table = UNSUPPORTED.get(namespace, {})

    def __getattr__(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        hint = table.get(name)
        advice = f" Use {hint}" if hint else ""
        if hint is not None:
            raise UnsupportedKerasName(f"{name} is a Keras {namespace} name that nnguru does not support.{advice}")
        raise UnsupportedKerasName(
            f"{name} is not in nnguru.{namespace}: it may be a Keras {namespace} name that nnguru does not "
            f"support. See dir(nnguru.{namespace}) for what exists."
        )

    return __getattr__
