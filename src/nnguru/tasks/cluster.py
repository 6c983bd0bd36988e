"""Clustering: group rows that look alike, without labels.

An autoencoder learns a code of the preprocessed data. It is trained to reconstruct the mean of
each row's nearest training neighbours rather than the row itself (a denoising target that pulls
one neighbourhood to one code). The codes, scaled to unit length, are grouped by k-means into many
small clusters that are merged into K along the nearest-neighbour graph (:class:`ClusterModel`), so
clusters need not be round; K is ``--clusters`` or the best silhouette over 2..10. Validation, test
and new rows (``nnguru predict``) go to the cluster of their nearest small-cluster centre.
Reported: silhouette and Davies-Bouldin (on the code), and with a label column (evaluation only)
adjusted Rand index and NMI, next to k-means on the preprocessed features without the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnguru.errors import NNGuruError
from nnguru.tasks import register
from nnguru.tasks.base import Evaluation, Prepared
from nnguru.tasks.reconstruction import Reconstruction

K_RANGE = range(2, 11)  # K tried by silhouette when --clusters is not given
SILHOUETTE_SAMPLE = 2000  # rows the silhouette is computed on (it costs N^2)
NEIGHBOURS = 10  # the reconstruction target is the mean of this many nearest training rows (self included)
TYPICAL = 5  # members listed per cluster: those nearest its centre
KMEANS_INITS = 10
MICRO_CLUSTERS = 50  # small k-means clusters merged into the final ones (at least 3 per cluster)
GRAPH_NEIGHBOURS = 10  # nearest neighbours that link micro clusters
FAINT_LINK = 1e-3  # weight of the distance-based link between every pair of micro clusters


def cluster_metrics(points: np.ndarray, assigned: np.ndarray, labels: np.ndarray | None, seed: int) -> dict:
    """Silhouette and Davies-Bouldin of ``assigned`` on ``points``; ARI and NMI against ``labels``."""
    from sklearn import metrics as skm

    out: dict[str, Any] = {"clusters_used": int(len(np.unique(assigned))), "rows": int(len(assigned))}
    flat = points.reshape(len(points), -1)
    if 2 <= out["clusters_used"] < len(flat):
        out["silhouette"] = float(skm.silhouette_score(flat, assigned, sample_size=min(SILHOUETTE_SAMPLE, len(flat)),
                                                        random_state=seed))
        out["davies_bouldin"] = float(skm.davies_bouldin_score(flat, assigned))
    if labels is not None and len(labels):
        out["ari"] = float(skm.adjusted_rand_score(labels, assigned))
        out["nmi"] = float(skm.normalized_mutual_info_score(labels, assigned))
    return out


@register
class Cluster(Reconstruction):
    name = "cluster"
    aliases = ("clustering",)
    headline = "ari"  # with labels; silhouettes of different spaces (code, features) do not compare
    summary_metrics = ("ari", "nmi", "silhouette", "davies_bouldin")
    report_cards = ("ari", "silhouette")
    options = ("clusters",)
    figures = {"clusters.png": "The test rows' codes on their two principal axes, coloured by cluster (and label)",
               "cluster_summary.png": "Clusters: sizes, most typical members, most frequent label"}

    # --- options ----------------------------------------------------------------------------
    def check_options(self, n_rows: int, labels: np.ndarray | None) -> None:
        k = self.cfg.get("clusters")
        if k is None:
            return
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise NNGuruError(f"--clusters must be a whole number of at least 2; received {k!r}. One cluster "
                              "groups nothing: pass e.g. --clusters 5, or leave it out to choose it by silhouette.")
        train = int(n_rows * (1 - float(self.cfg["val_frac"]) - float(self.cfg["test_frac"])))
        if k > train:
            raise NNGuruError(f"--clusters {k} is more than the {train} training rows of the data ({n_rows} rows "
                              "in all): each cluster needs rows. Pass a smaller --clusters, or more data.")

    # --- targets: the mean of each row's neighbourhood ---------------------------------------
    def prepare(self, ds, console) -> Prepared:
        from sklearn.neighbors import NearestNeighbors

        p = super().prepare(ds, console)
        train = p.x["train"].reshape(len(p.x["train"]), -1)
        k = min(NEIGHBOURS, len(train))
        index = NearestNeighbors(n_neighbors=k).fit(train)
        for split in ("train", "val", "test"):
            x = p.x[split]
            if len(x):  # validation and test rows: their neighbours among the training rows
                near = index.kneighbors(x.reshape(len(x), -1), return_distance=False)
                p.y[split] = p.x["train"][near].mean(axis=1).astype(np.float32)
        p.data_report["cluster"] = {"reconstruction_target": f"mean of the {k} nearest training rows"}
        return p

    # --- evaluate ---------------------------------------------------------------------------
    def fit_clusters(self, codes: np.ndarray, k: int) -> ClusterModel:
        """k-means into many small clusters, merged into ``k`` along the nearest-neighbour graph."""
        return ClusterModel.fit(codes, k, int(self.cfg["seed"]))

    def choose_k(self, codes: np.ndarray) -> tuple[ClusterModel, list[dict]]:
        """``--clusters``, else the K in 2..10 with the best silhouette on the training codes."""
        from sklearn.metrics import silhouette_score

        if self.cfg.get("clusters"):
            return self.fit_clusters(codes, int(self.cfg["clusters"])), []
        seed, table, best = int(self.cfg["seed"]), [], None
        for k in K_RANGE:
            if k >= len(codes):
                break
            cm = self.fit_clusters(codes, k)
            assigned = cm.assign(codes)
            score = float(silhouette_score(codes, assigned, sample_size=min(SILHOUETTE_SAMPLE, len(codes)),
                                           random_state=seed)) if len(np.unique(assigned)) > 1 else -1.0
            table.append({"k": k, "silhouette": round(score, 4)})
            if best is None or score > best[0]:
                best = (score, cm)
        if best is None:
            raise NNGuruError(f"Too few training rows ({len(codes)}) to cluster; use more data.")
        return best[1], table

    def embed_for_clusters(self, model, x: np.ndarray) -> np.ndarray:
        """The code scaled to unit length: k-means then compares directions (cosine), which the
        autoencoder's code separates better than lengths."""
        return self.embed(model, x)  # unit length already

    def evaluate(self, model, p: Prepared) -> Evaluation:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA

        seed, labels = int(self.cfg["seed"]), p.context["labels"]
        codes = {split: self.embed_for_clusters(model, p.x[split]) for split in ("train", "val", "test")}
        cm, tried = self.choose_k(codes["train"])
        k = cm.k
        flat = {s: p.x[s].reshape(len(p.x[s]), -1) for s in ("train", "test")}
        ref = KMeans(k, n_init=KMEANS_INITS, random_state=seed).fit(flat["train"])
        metrics: dict[str, Any] = {"train": cluster_metrics(codes["train"], cm.assign(codes["train"]),
                                                            labels["train"], seed)}
        if len(codes["val"]):
            metrics["val"] = cluster_metrics(codes["val"], cm.assign(codes["val"]), labels["val"], seed)
        test_split = "test" if len(codes["test"]) else "train"  # no test split: the training rows
        assigned = cm.assign(codes[test_split])
        metrics["test"] = cluster_metrics(codes[test_split], assigned, labels[test_split], seed)
        ref_assigned = ref.predict(flat[test_split])
        metrics["baseline"] = {"kmeans": {
            **cluster_metrics(flat[test_split], ref_assigned, labels[test_split], seed),
            "strategy": f"scikit-learn KMeans(n_clusters={k}) on the preprocessed features, without the network "
                        "(silhouette and Davies-Bouldin measured on those features)"}}
        metrics["cluster"] = {"k": k, "chosen_by": "silhouette" if tried else "--clusters", "silhouette_by_k": tried,
                              "embedding": f"autoencoder code ({codes['train'].shape[1]} dimensions), unit length",
                              "micro_clusters": len(cm.centres)}
        pts = PCA(2, random_state=seed).fit(codes["train"]).transform(codes[test_split]) \
            if codes["train"].shape[1] >= 2 else np.c_[codes[test_split], np.zeros(len(codes[test_split]))]
        plots = {"points": pts, "assigned": assigned, "labels": labels[test_split],
                 "summary": self.summaries(cm, codes, labels, p.context["rows"]),
                 "assignments": self.assignments(cm, codes, labels, p.context["rows"])}
        return Evaluation(metrics, {"cluster_model": cm.to_config()}, plots)

    @staticmethod
    def assignments(cm: ClusterModel, codes: dict, labels: dict, rows: dict):
        """Every row of the data: its split, cluster and distance to the centre (assignments.csv)."""
        import pandas as pd

        parts = []
        for split in ("train", "val", "test"):
            if not len(codes[split]):
                continue
            assigned, distance = cm.assign(codes[split], with_distance=True)
            frame = pd.DataFrame({"row": rows[split], "split": split, "cluster": assigned,
                                  "distance": distance.round(6)})
            if labels[split] is not None:
                frame["label"] = labels[split]
            parts.append(frame)
        return pd.concat(parts).sort_values("row").reset_index(drop=True)

    @staticmethod
    def summaries(cm: ClusterModel, codes: dict, labels: dict, rows: dict) -> list[dict]:
        """Per cluster (training rows): size, share, the rows nearest the centre, the most frequent label."""
        assigned, dist = cm.assign(codes["train"], with_distance=True)
        out = []
        for c in range(cm.k):
            members = np.flatnonzero(assigned == c)
            typical = members[np.argsort(dist[members])[:TYPICAL]]
            row = {"cluster": c, "size": int(len(members)), "share": round(len(members) / max(len(assigned), 1), 4),
                   "typical_rows": [int(r) for r in np.asarray(rows["train"])[typical]]}
            if labels["train"] is not None and len(members):
                values, counts = np.unique(labels["train"][members], return_counts=True)
                row.update(top_label=str(values[counts.argmax()]), purity=round(float(counts.max() / len(members)), 4))
            out.append(row)
        return out

    def write_outputs(self, run_dir: Path, ev: Evaluation) -> list[Path]:
        import pandas as pd

        from nnguru.report.unsupervised import plot_cluster_summary, plot_clusters
        from nnguru.rundir import write_json

        pl = ev.plots
        pl["assignments"].to_csv(run_dir / "assignments.csv", index=False)
        write_json(run_dir / "clusters.json", pl["summary"])
        return [plot_clusters(pl["points"], pl["assigned"], pl["labels"], run_dir / "clusters.png"),
                plot_cluster_summary(pd.DataFrame(pl["summary"]), run_dir / "cluster_summary.png"),
                run_dir / "assignments.csv", run_dir / "clusters.json"]

    # --- predict ----------------------------------------------------------------------------
    def prediction_columns(self, model, output: np.ndarray) -> dict[str, np.ndarray]:
        spec = self.cfg.get("cluster_model")
        if not spec:
            raise NNGuruError("The run's config.yaml has no cluster_model: it was not written by a finished "
                              "`nnguru train --task cluster`. Train it again.")
        assigned, distance = ClusterModel.from_config(spec).assign(self.embed_for_clusters(model, output),
                                                                   with_distance=True)
        return {"cluster": assigned, "distance": distance}

    def score(self, model, ds) -> dict:
        """``nnguru evaluate``: the clusters of new rows against their labels."""
        from nnguru.tasks.reconstruction import label_values

        x = model.preprocessor.transform(ds.X)
        assigned = self.prediction_columns(model, x)["cluster"]
        return cluster_metrics(self.embed_for_clusters(model, x), assigned, label_values(ds.y),
                               int(self.cfg.get("seed", 0)))


def unit_rows(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


class ClusterModel:
    """Clusters that need not be round: many small k-means clusters ("micro" clusters), merged into
    ``k`` by spectral clustering of the graph that links micro clusters whose rows are nearest
    neighbours. A new row goes to the cluster of its nearest micro centre, so the state is small
    (centres and their cluster: stored in config.yaml) and prediction needs no training rows."""

    def __init__(self, centres: np.ndarray, cluster_of: np.ndarray, k: int):
        self.centres, self.cluster_of, self.k = np.asarray(centres, np.float32), np.asarray(cluster_of), int(k)

    @classmethod
    def fit(cls, codes: np.ndarray, k: int, seed: int) -> ClusterModel:
        from sklearn.cluster import KMeans, SpectralClustering
        from sklearn.neighbors import NearestNeighbors

        micro = int(min(len(codes), max(MICRO_CLUSTERS, 3 * k)))
        km = KMeans(micro, n_init=3, random_state=seed).fit(codes)
        own = km.labels_
        n_near = min(GRAPH_NEIGHBOURS, len(codes) - 1)
        near = NearestNeighbors(n_neighbors=n_near + 1).fit(codes).kneighbors(codes, return_distance=False)[:, 1:]
        links = np.zeros((micro, micro))
        np.add.at(links, (np.repeat(own, n_near), own[near.ravel()]), 1.0)
        sizes = np.bincount(own, minlength=micro).astype(np.float64)
        links = (links + links.T) / np.sqrt(np.outer(sizes, sizes) + 1e-12)
        # a faint link between every pair of centres (by distance) keeps the graph connected
        d2 = ((km.cluster_centers_[:, None] - km.cluster_centers_[None]) ** 2).sum(-1)
        links += FAINT_LINK * np.exp(-d2 / (np.median(d2[d2 > 0]) if (d2 > 0).any() else 1.0))
        np.fill_diagonal(links, 0.0)
        merged = SpectralClustering(k, affinity="precomputed", random_state=seed,
                                    assign_labels="cluster_qr").fit_predict(links)
        return cls(km.cluster_centers_, merged, k)

    def assign(self, codes: np.ndarray, with_distance: bool = False):
        """The cluster of each row (its nearest micro centre's), and the distance to that centre."""
        d2 = ((codes[:, None, :] - self.centres[None]) ** 2).sum(-1) if len(codes) else np.zeros((0, 1))
        nearest = d2.argmin(1)
        clusters = self.cluster_of[nearest].astype(np.int64)
        return (clusters, np.sqrt(d2.min(1))) if with_distance else clusters

    def to_config(self) -> dict:
        return {"k": self.k, "centres": self.centres.round(6).tolist(), "cluster_of": self.cluster_of.tolist()}

    @classmethod
    def from_config(cls, spec: dict) -> ClusterModel:
        return cls(np.asarray(spec["centres"], np.float32), np.asarray(spec["cluster_of"]), spec["k"])
