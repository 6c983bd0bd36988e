"""Similarity search: every run keeps an embedding of its training items, to find the nearest ones.

A trained network's last hidden layer (the input of its head, the layers a task ends the model
with) places items that the task treats alike close together; a search there finds related rows,
pictures or sounds without any labels. The write stage stores those vectors in the bundle, the
same for every task (a task may embed differently: ``Task.embed``, e.g. an autoencoder's code):

    model/embeddings.safetensors   "vectors" (N, D) L2-normalized, float32 (float16 past 8 MB);
                                   "rows" (N,) int64 item row numbers, or the ids in the JSON;
                                   "labels" (N,) the training targets (class index or value);
                                   "center", "projection" when the network's D was reduced (below)
    model/embeddings.json          format, head_layer (where the embedding is read: the head's input,
                                   or an autoencoder's code output), kind, count, dim, dtype, ids
                                   ("rows", or the file paths), classes, reduced_from

A head that reads a wide layer (the cnn template's flattened map: 3,136 numbers on MNIST) is
reduced to ``MAX_DIM`` by PCA fitted on the training items (scikit-learn, seeded), the pre-transform
vector indexes use: MNIST's 51,000 items take 13 MB instead of 320, and queries are projected the
same way.

``nnguru similar RUN_DIR QUERY`` (and ``Run.similar``) preprocesses the query with the run's own
preprocessor, embeds it and searches with scikit-learn's ``NearestNeighbors`` (cosine distance,
brute force: exact, and fast enough for the sizes a run holds). Where labels exist, the evaluate
stage scores the embedding by precision@k of same-label neighbours on the test split, next to the
same search on the preprocessed features without the network (``metrics.json``'s ``similarity``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from nnguru.errors import NNGuruError
from nnguru.jsonutil import jsonable

FORMAT = "nnguru-embeddings-1"
VECTORS, META = "embeddings.safetensors", "embeddings.json"
K = 5  # neighbours scored by the evaluate stage (precision@5)
# Test items scored: the raw-feature search costs N_train x D per query (MNIST: 51,000 x 784), and
# 1,000 queries pin precision@5 near 0.95 to about +-0.01.
MAX_EVAL_QUERIES = 1000
FLOAT16_ABOVE = 8 * 2**20  # bytes of float32 vectors past which they are stored as float16
# Widest stored embedding: wider ones are PCA-reduced to this (cosine neighbours barely move; RESULTS
# "Similarity search"), fitted on at most PCA_FIT_ROWS training items.
MAX_DIM = 128
PCA_FIT_ROWS = 20_000
BATCH = 4096


class _Captured(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the hook once the head's input is seen: the head itself need not run."""

    def __init__(self, value: torch.Tensor):
        self.value = value


# ---- where the embedding is taken --------------------------------------------------------------
def _has_weights(layer: nn.Module) -> bool:
    return any(True for _ in layer.parameters())


def head_layer(model: nn.Module) -> tuple[nn.Module, str]:
    """The first layer of the model's head and its name: the embedding is this layer's input.

    The head is the last layer with weights and whatever follows it (a softmax, a rescale):
    for the templates that is exactly the task's ``head``; for a user's ``Sequential`` or
    functional model it is the output layer. Functional models are walked back from their
    first output through weightless single-input layers.
    """
    from nnguru.nn.functional import Functional

    if isinstance(model, Functional):
        node = model.outputs[0].node
        while node is not None and not _has_weights(node.layer) and len(node.inputs) == 1:
            node = getattr(node.inputs[0], "node", None)
        if node is None or len(node.inputs) != 1:
            raise NNGuruError("Cannot find the layer before this functional model's head (its output is not "
                              "fed by one layer with weights), so no embedding was stored for similarity search.")
        return node.layer, _name(node.layer, 0)
    layers = list(getattr(model, "layers", None) or [])
    weighted = [i for i, layer in enumerate(layers) if _has_weights(layer)]
    if not weighted:
        raise NNGuruError(f"Cannot find a head in the {type(model).__name__} (no layer with weights), so no "
                          "embedding was stored for similarity search.")
    return layers[weighted[-1]], _name(layers[weighted[-1]], weighted[-1])


def _name(layer: nn.Module, index: int) -> str:
    return str(getattr(layer, "layer_name", None) or getattr(layer, "name", None)
               or f"{type(layer).__name__.lower()}_{index}")


def _model_inputs(model, x: Any) -> np.ndarray:
    """Model-ready arrays for already preprocessed ``x`` (the attached preprocessor is skipped;
    host encoders such as TextVectorization and packed functional inputs still apply)."""
    pre, model.preprocessor = getattr(model, "preprocessor", None), None
    try:
        return model._x_array(x)
    finally:
        model.preprocessor = pre


def embed(model, x: Any, batch_size: int = BATCH) -> np.ndarray:
    """The input of ``model``'s head for preprocessed ``x``, flattened, L2-normalized float32 (N, D).

    Runs in evaluation mode (no dropout) under ``torch.inference_mode``, in batches; a forward
    pre-hook on the head's first layer takes its input and stops the pass there.
    """
    layer, _ = head_layer(model)
    arr = _model_inputs(model, x)

    def grab(_module, args):
        raise _Captured(args[0])

    handle = layer.register_forward_pre_hook(grab)
    was_training = model.training
    model.eval()
    outs = []
    try:
        with torch.inference_mode():
            for start in range(0, len(arr), batch_size):
                xb = torch.as_tensor(arr[start:start + batch_size]).to(model.device)
                try:
                    model(xb)
                except _Captured as got:
                    outs.append(got.value.float().reshape(len(xb), -1).cpu())
                    continue
                raise NNGuruError("The model's forward pass did not reach its head layer, so no embedding "
                                  "could be taken for similarity search.")
    finally:
        handle.remove()
        model.train(was_training)
    if not outs:
        return np.zeros((0, 0), dtype=np.float32)
    return normalize(torch.cat(outs).numpy())


def normalize(v: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32: cosine = dot product."""
    v = np.asarray(v, dtype=np.float32).reshape(len(v), -1)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


# ---- the stored index --------------------------------------------------------------------------
@dataclass
class Index:
    """The training items' embeddings, their ids and labels, as stored in the bundle."""

    vectors: np.ndarray  # (N, D) unit rows
    ids: list  # row numbers (int) or file paths (str)
    labels: np.ndarray | None = None  # class indices (classes given) or target values
    classes: list | None = None
    head_layer: str = ""  # the embedding is this layer's input
    kind: str = ""  # the preprocessor's data kind: table, text, image, audio
    center: np.ndarray | None = None  # (D,) PCA mean, when the network's embedding was reduced
    projection: np.ndarray | None = None  # (D, MAX_DIM) PCA components: network embedding -> stored

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def network_dim(self) -> int:
        """The width of the network's embedding (before any reduction)."""
        return int(self.projection.shape[0] if self.projection is not None else self.vectors.shape[1])

    def project(self, v: np.ndarray) -> np.ndarray:
        """Network embeddings (unit rows) into the stored space, as the items were."""
        if v.shape[1] != self.network_dim:
            raise NNGuruError(f"QUERY embeds to {v.shape[1]} numbers but the stored items to {self.network_dim}: "
                              "the bundle's embeddings were made by another model. Train the run again.")
        return v if self.projection is None else normalize((v - self.center) @ self.projection)

    def label_of(self, i: np.ndarray) -> np.ndarray | None:
        if self.labels is None:
            return None
        values = self.labels[i]
        return np.asarray(self.classes, dtype=object)[values] if self.classes is not None else values

    def save(self, folder: Path) -> None:
        """Write the two files into ``folder`` (the bundle's writer calls this inside its swap)."""
        from safetensors.numpy import save_file

        vectors = self.vectors.astype(np.float32)
        if vectors.nbytes > FLOAT16_ABOVE:
            vectors = vectors.astype(np.float16)
        tensors = {"vectors": np.ascontiguousarray(vectors)}
        rows = all(isinstance(i, (int, np.integer)) for i in self.ids)
        if rows:
            tensors["rows"] = np.asarray(self.ids, dtype=np.int64)
        if self.labels is not None:
            tensors["labels"] = np.ascontiguousarray(self.labels)
        if self.projection is not None:
            tensors["center"] = self.center.astype(np.float32)
            tensors["projection"] = np.ascontiguousarray(self.projection, dtype=np.float32)
        save_file(tensors, folder / VECTORS, metadata={"format": FORMAT})
        meta = {"format": FORMAT, "head_layer": self.head_layer, "kind": self.kind, "count": len(self.vectors),
                "dim": int(self.vectors.shape[1]), "dtype": str(vectors.dtype),
                "ids": "rows" if rows else [str(i) for i in self.ids], "classes": self.classes,
                "reduced_from": self.network_dim if self.projection is not None else None}
        (folder / META).write_text(json.dumps(jsonable(meta)))  # NumPy class labels as plain JSON


def load_index(model_dir: str | Path) -> Index:
    """The stored index of a bundle; a bundle without one (saved before nnguru stored embeddings,
    or by ``model.save``) is refused with the fix."""
    from safetensors.numpy import load_file

    folder = Path(model_dir)
    if not (folder / VECTORS).is_file() or not (folder / META).is_file():
        raise NNGuruError(
            f"RUN_DIR {str(folder.parent)!r} has no stored embeddings ({folder.name}/{VECTORS} is missing): "
            "the run was saved by an nnguru version before similarity search, or by model.save(). "
            "Train it again with `nnguru train` to search it.")
    meta = json.loads((folder / META).read_text())
    if meta.get("format") != FORMAT:
        raise NNGuruError(f"{str(folder / META)!r} has format {meta.get('format')!r}, not {FORMAT!r}; "
                          "train the run again with this nnguru version.")
    tensors = load_file(str(folder / VECTORS))
    vectors = tensors["vectors"].astype(np.float32)
    ids = tensors["rows"].tolist() if meta["ids"] == "rows" else list(meta["ids"])
    if len(ids) != len(vectors):
        raise NNGuruError(f"{str(folder / VECTORS)!r} holds {len(vectors)} vectors but {len(ids)} ids; the "
                          "bundle is damaged. Train the run again.")
    return Index(vectors, ids, tensors.get("labels"), meta.get("classes"), meta.get("head_layer", ""),
                 meta.get("kind", ""), tensors.get("center"), tensors.get("projection"))


def reduce(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(stored vectors, center, projection)``: unit rows wider than ``MAX_DIM`` PCA-reduced (fitted
    on up to ``PCA_FIT_ROWS`` of them, seeded) and renormalized; narrower ones unchanged."""
    if vectors.ndim != 2 or vectors.shape[1] <= MAX_DIM or len(vectors) <= MAX_DIM:
        return vectors, None, None
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    fit = vectors if len(vectors) <= PCA_FIT_ROWS else vectors[rng.choice(len(vectors), PCA_FIT_ROWS, replace=False)]
    pca = PCA(n_components=MAX_DIM, svd_solver="randomized", random_state=seed).fit(fit)
    center, projection = pca.mean_.astype(np.float32), pca.components_.T.astype(np.float32)
    return normalize((vectors - center) @ projection), center, projection


def build_index(task, model, p) -> Index:
    """The training split's embeddings (the task's ``embed``), ids and labels."""
    x = p.x["train"]
    vectors, center, projection = reduce(task.embed(model, x), int(task.cfg.get("seed") or 0))
    ids = p.context.get("train_ids")
    ids = list(range(len(vectors))) if ids is None else list(ids)
    y = p.y.get("train")
    labels = None
    if y is not None and np.ndim(y) == 1 and len(y) == len(vectors):
        labels = np.asarray(y, dtype=np.int64 if task.categorical_target else np.float32)
    classes = list(p.pre.classes) if task.categorical_target and getattr(p.pre, "classes", None) else None
    return Index(vectors, ids, labels, classes, task.embedding_layer(model), str(getattr(p.pre, "kind", "") or ""),
                 center, projection)


def head_layer_name(model) -> str:
    """The name of the model's head layer (the embedding is its input), or "" when it has none."""
    try:
        return _name(*head_layer(model))
    except NNGuruError:
        return ""


# ---- search and evaluation ---------------------------------------------------------------------
def check_k(k: Any, n_items: int) -> int:
    """``--k``: a whole number from 1 to the number of stored items."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= n_items:
        raise NNGuruError(f"--k {k!r} is out of range: the run stores {n_items} training items, so k must be "
                          f"a whole number from 1 to {n_items}. Pass e.g. --k 5.")
    return int(k)


def neighbours(items: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(distances, indices)`` of the ``k`` nearest ``items`` to each query, by cosine distance."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(items)
    return index.kneighbors(queries)


def precision_at_k(items: np.ndarray, item_labels: np.ndarray, queries: np.ndarray,
                   query_labels: np.ndarray, k: int = K) -> float:
    """Mean share of each query's ``k`` nearest items that have the query's label."""
    _, idx = neighbours(items, queries, k)
    return float(np.mean(np.asarray(item_labels)[idx] == np.asarray(query_labels)[:, None]))


def evaluate(task, model, p, index: Index, k: int = K) -> dict:
    """precision@k of same-label neighbours of test items among training items: the embedding
    next to the same search on the preprocessed features (``metrics.json``'s ``similarity``)."""
    x_test, y_test = p.x.get("test"), p.y.get("test")
    result: dict = {"k": k, "items": len(index), "dim": int(index.vectors.shape[1]),
                    "network_dim": index.network_dim, "head_layer": index.head_layer}
    if index.labels is None or not task.categorical_target or y_test is None or not len(y_test):
        return {**result, "note": "no class labels: precision@k needs them"}
    k = min(k, len(index))
    pick = np.arange(len(y_test))
    if len(pick) > MAX_EVAL_QUERIES:  # a seeded sample keeps the raw-feature search cheap
        pick = np.sort(np.random.default_rng(int(task.cfg.get("seed") or 0)).choice(
            len(pick), MAX_EVAL_QUERIES, replace=False))
    queries = index.project(task.embed(model, x_test[pick]))
    raw_items, raw_queries = normalize(p.x["train"]), normalize(x_test[pick])
    labels = np.asarray(y_test)[pick]
    return {**result, "queries": len(pick), "k": k,
            "embedding": {f"precision_at_{k}": precision_at_k(index.vectors, index.labels, queries, labels, k)},
            "preprocessed_features": {
                f"precision_at_{k}": precision_at_k(raw_items, index.labels, raw_queries, labels, k)}}


def search(task, model, index: Index, x: np.ndarray, query_ids: list, k: int) -> pd.DataFrame:
    """The ``k`` nearest stored items of each preprocessed query: ``query, rank, item, distance``
    (and ``label`` where the items have labels)."""
    k = check_k(k, len(index))
    vectors = index.project(task.embed(model, x))
    dist, idx = neighbours(index.vectors, vectors, k)
    items = np.asarray(index.ids, dtype=object)
    frame = pd.DataFrame({
        "query": np.repeat(np.asarray(query_ids, dtype=object), k),
        "rank": np.tile(np.arange(1, k + 1), len(vectors)),
        "item": items[idx.ravel()],
        "distance": np.clip(dist.ravel(), 0.0, 2.0),
    })
    labels = index.label_of(idx.ravel())
    if labels is not None:
        frame["label"] = labels
    return frame


# ---- queries -----------------------------------------------------------------------------------
def query_inputs(model, cfg: dict, query: Any, **source_options: Any) -> tuple[np.ndarray, list]:
    """``(preprocessed query, query ids)`` for rows (a table file, a DataFrame, an array), one
    image/audio file, or a folder; a query of another data kind or feature set is refused."""
    from nnguru.data import columns as col

    pre = model.preprocessor
    if not isinstance(query, (str, Path)):
        ids = list(query) if _is_path_list(query) else list(range(len(query)))
        return _transform(pre, query, "QUERY (the data passed)"), ids
    path = Path(query).expanduser()
    media = _media_column(pre)
    if path.is_file() and col.media_kind(path.name) is not None:
        found = col.media_kind(path.name)
        if media is None or found != pre.kind:
            raise NNGuruError(f"QUERY {str(query)!r} is {'an' if found == 'image' else 'a'} {found} file, but this "
                              f"run was trained on {_describe(pre)}. Pass a query of the same kind.")
        return _transform(pre, pd.DataFrame({media: [str(path)]}), f"QUERY {str(query)!r}"), [str(path)]
    from nnguru.inference import load_new_data

    ds = load_new_data(query, cfg, with_target=False, model=model, **source_options)
    _check_kind(pre, ds, query)
    column = ds.info.get("path_column") or (media if media and isinstance(ds.X, pd.DataFrame) else None)
    ids = ds.X[column].astype(str).tolist() if column else list(range(len(ds)))
    return _transform(pre, ds.X, f"QUERY {str(query)!r}"), ids


def _is_path_list(query: Any) -> bool:
    return isinstance(query, (list, tuple)) and len(query) > 0 and all(isinstance(v, str) for v in query)


def _media_column(pre) -> str | None:
    """The path column of a run trained on image/audio files (None for tables and arrays)."""
    if getattr(pre, "_array", None) is not None or getattr(pre, "kind", None) not in ("image", "audio"):
        return None
    return pre.blocks[0].columns[0]


def _describe(pre) -> str:
    if getattr(pre, "_array", None) is not None:
        return f"arrays of shape {tuple(pre._array['shape'])} (a folder of MNIST IDX files, an .npz, or arrays)"
    if pre.kind in ("image", "audio"):
        return f"{pre.kind} files"
    return f"table rows with the columns {list(pre.columns)[:20]}"


def _check_kind(pre, ds, query) -> None:
    where = f"QUERY {str(query)!r}"
    array_run = getattr(pre, "_array", None) is not None
    if array_run != isinstance(ds.X, np.ndarray):
        raise NNGuruError(f"{where} holds {_data_of(ds)}, but this run was trained on {_describe(pre)}. "
                          "Pass a query of the same kind.")
    media = _media_column(pre)
    if media is not None and ds.kind != pre.kind and media not in getattr(ds.X, "columns", ()):
        raise NNGuruError(f"{where} holds {_data_of(ds)}, but this run was trained on {_describe(pre)}. "
                          "Pass a query of the same kind.")
    if media is None and not array_run:
        if ds.kind in ("image", "audio"):
            raise NNGuruError(f"{where} holds {ds.kind} files, but this run was trained on {_describe(pre)}. "
                              "Pass rows with the training columns.")
        needed = sorted({c for b in getattr(pre, "blocks", ()) for c in b.columns} - set(map(str, ds.X.columns)))
        if needed:
            raise NNGuruError(f"{where} lacks the column(s) {needed[:20]} this run was trained on (it has "
                              f"{list(map(str, ds.X.columns))[:20]}). Pass rows with the training columns "
                              "(same header, or the same --columns/--no-header options).")


def _data_of(ds) -> str:
    if isinstance(ds.X, np.ndarray):
        return f"arrays of shape {ds.X.shape}"
    return f"{ds.kind} files" if ds.kind in ("image", "audio") else "table rows"


def _transform(pre, x: Any, where: str) -> np.ndarray:
    try:
        return pre.transform(x)
    except NNGuruError as exc:
        raise NNGuruError(f"{where} does not fit this run's preprocessing: {exc}") from None


def similar(run_dir: str | Path, query: Any, k: int = K, **source_options: Any) -> pd.DataFrame:
    """``nnguru similar RUN_DIR QUERY``: the nearest training items of each query item."""
    from nnguru.inference import load_run, run_task

    model, cfg = load_run(run_dir)
    index = load_index(Path(run_dir) / "model")
    check_k(k, len(index))  # before any query is read
    x, ids = query_inputs(model, cfg, query, **source_options)
    return search(run_task(cfg), model, index, x, ids, k)
