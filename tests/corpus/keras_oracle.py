"""Run the corpus programs under real Keras 3 (torch backend) to check they are valid Keras.

Each tests/corpus/test_*.py holds a published Keras program whose imports were changed to nnguru.
This script maps the `nnguru` package back onto `keras` (``import nnguru as keras`` -> keras,
``from nnguru.layers import Dense`` -> keras.layers.Dense, ``import nnguru as tf`` -> an object whose
``tf.keras`` is keras) and calls each test function, assertions included. The parameter counts the
tests assert were read from Keras's ``summary()`` this way.

    python3 -m venv /work/venv-keras
    /work/venv-keras/bin/pip install torch==2.13.0 keras numpy scikit-learn pandas
    KERAS_BACKEND=torch /work/venv-keras/bin/python tests/corpus/keras_oracle.py [name ...]

Prints one line per program (PASS, or FAIL with the first error) and exits 1 if any failed.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import inspect
import os
import sys
import tempfile
import traceback
import types
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
HERE = Path(__file__).resolve().parent


class _KerasAsNnguru(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: ``nnguru`` and ``nnguru.X.Y`` resolve to ``keras`` and ``keras.X.Y``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "nnguru" or fullname.startswith("nnguru."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        import keras

        if spec.name == "nnguru":
            return _nnguru_root(keras)
        return importlib.import_module("keras" + spec.name[len("nnguru"):])

    def exec_module(self, module):
        pass


def _nnguru_root(keras) -> types.ModuleType:
    root = types.ModuleType("nnguru")
    root.__path__ = []  # a package, so `nnguru.layers` etc. import through the hook
    root.__dict__.update({k: getattr(keras, k) for k in dir(keras) if not k.startswith("__")})
    root.__version__ = keras.__version__
    root.keras = keras  # `import nnguru as tf` then `tf.keras.layers...`
    root.metrics = keras.metrics
    root.random = types.SimpleNamespace(set_seed=keras.utils.set_random_seed)  # tf.random.set_seed
    return root


# Programs that real Keras 3 cannot run on the torch backend without TensorFlow installed, and why.
TF_ONLY = {
    "test_tf_text_classification": "keras.layers.TextVectorization requires TensorFlow on every backend",
    "test_tf_quickstart_beginner": "model(x).numpy() is TensorFlow-backend behaviour (torch tensors need .detach())",
}


def _stub_tensorboard(keras) -> None:
    """Keras 3's TensorBoard callback imports TensorFlow; without it, stand in a callback that makes the log dir."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        class TensorBoard(keras.callbacks.Callback):
            def __init__(self, log_dir="logs", **kwargs):
                super().__init__()
                self.log_dir = Path(log_dir)

            def on_train_begin(self, logs=None):
                self.log_dir.mkdir(parents=True, exist_ok=True)
                (self.log_dir / "stub-no-tensorflow").touch()

        keras.callbacks.TensorBoard = TensorBoard
        print("note: keras.callbacks.TensorBoard stubbed (it needs TensorFlow)")


def _fixtures(tmp: Path) -> dict:
    return {"workdir": tmp, "tmp_path": tmp}


def run(names: list[str]) -> int:
    sys.meta_path.insert(0, _KerasAsNnguru())
    sys.path.insert(0, str(HERE))
    failures = 0
    files = sorted(HERE.glob("test_*.py"))
    if names:
        files = [f for f in files if any(n in f.stem for n in names)]
    start = Path.cwd()
    import keras

    _stub_tensorboard(keras)
    for file in files:
        module = importlib.import_module(file.stem)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("test_"):
                continue
            if name in TF_ONLY and "tensorflow" not in sys.modules:
                try:
                    import tensorflow  # noqa: F401
                except ImportError:
                    print(f"SKIP {name}: {TF_ONLY[name]}", flush=True)
                    continue
            with tempfile.TemporaryDirectory() as tmp:
                os.chdir(tmp)
                import keras

                keras.utils.set_random_seed(0)
                args = _fixtures(Path(tmp))
                try:
                    fn(**{p: args[p] for p in inspect.signature(fn).parameters})
                    print(f"PASS {name}", flush=True)
                except Exception as exc:  # report and go on with the next program
                    failures += 1
                    where = traceback.extract_tb(exc.__traceback__)[-1]
                    print(f"FAIL {name}: {type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})",
                          flush=True)
                finally:
                    os.chdir(start)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
