"""Clustering: group rows that look alike, without labels.

An autoencoder learns a code of the preprocessed data; k-means (scikit-learn) groups the codes of
the training rows, with ``--clusters K`` or K chosen by the best silhouette over 2..10. The
autoencoder is trained to reconstruct the mean of each row's nearest training neighbours rather than
the row itself (a denoising target that pulls rows of one neighbourhood to one code), which is what
makes its codes cluster better than the raw features. Validation and test rows are assigned to the
nearest centre, as ``nnguru predict`` assigns new rows. Reported: silhouette and Davies-Bouldin
(on the code), and with a label column (evaluation only) adjusted Rand index and NMI, next to
k-means on the preprocessed features without the network, in the same run.
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
    headline = "silhouette"
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
    def choose_k(self, codes: np.ndarray) -> tuple[int, list[dict]]:
        """``--clusters``, else the K in 2..10 with the best silhouette on the training codes."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        if self.cfg.get("clusters"):
            return int(self.cfg["clusters"]), []
        seed, table = int(self.cfg["seed"]), []
        for k in K_RANGE:
            if k >= len(codes):
                break
            assigned = KMeans(k, n_init=KMEANS_INITS, random_state=seed).fit_predict(codes)
            table.append({"k": k, "silhouette": round(float(silhouette_score(
                codes, assigned, sample_size=min(SILHOUETTE_SAMPLE, len(codes)), random_state=seed)), 4)})
        if not table:
            raise NNGuruError(f"Too few training rows ({len(codes)}) to cluster; use more data.")
        return max(table, key=lambda row: row["silhouette"])["k"], table

    def evaluate(self, model, p: Prepared) -> Evaluation:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA

        seed, labels = int(self.cfg["seed"]), p.context["labels"]
        codes = {split: self.embed(model, p.x[split]) for split in ("train", "val", "test")}
        k, tried = self.choose_k(codes["train"])
        km = KMeans(k, n_init=KMEANS_INITS, random_state=seed).fit(codes["train"])
        flat = {s: p.x[s].reshape(len(p.x[s]), -1) for s in ("train", "test")}
        ref = KMeans(k, n_init=KMEANS_INITS, random_state=seed).fit(flat["train"])
        metrics: dict[str, Any] = {"train": cluster_metrics(codes["train"], km.labels_, labels["train"], seed)}
        if len(codes["val"]):
            metrics["val"] = cluster_metrics(codes["val"], km.predict(codes["val"]), labels["val"], seed)
        test_split = "test" if len(codes["test"]) else "train"  # no test split: the training rows
        assigned = km.predict(codes[test_split])
        metrics["test"] = cluster_metrics(codes[test_split], assigned, labels[test_split], seed)
        ref_assigned = ref.predict(flat[test_split])
        metrics["baseline"] = {"kmeans": {
            **cluster_metrics(flat[test_split], ref_assigned, labels[test_split], seed),
            "strategy": f"scikit-learn KMeans(n_clusters={k}) on the preprocessed features, without the network"}}
        metrics["cluster"] = {"k": k, "chosen_by": "silhouette" if tried else "--clusters", "silhouette_by_k": tried,
                              "embedding": f"autoencoder code ({codes['train'].shape[1]} dimensions)"}
        self.headline = "ari" if labels[test_split] is not None else "silhouette"
        pts = PCA(2, random_state=seed).fit(codes["train"]).transform(codes[test_split]) \
            if codes["train"].shape[1] >= 2 else np.c_[codes[test_split], np.zeros(len(codes[test_split]))]
        plots = {"points": pts, "assigned": assigned, "labels": labels[test_split],
                 "summary": self.summaries(km, codes, labels, p.context["rows"]),
                 "assignments": self.assignments(km, codes, labels, p.context["rows"])}
        return Evaluation(metrics, {"cluster_centers": km.cluster_centers_.round(6).tolist()}, plots)

    @staticmethod
    def assignments(km, codes: dict, labels: dict, rows: dict):
        """Every row of the data: its split, cluster and distance to the centre (assignments.csv)."""
        import pandas as pd

        parts = []
        for split in ("train", "val", "test"):
            if not len(codes[split]):
                continue
            dist = km.transform(codes[split])
            frame = pd.DataFrame({"row": rows[split], "split": split, "cluster": dist.argmin(1),
                                  "distance": dist.min(1).round(6)})
            if labels[split] is not None:
                frame["label"] = labels[split]
            parts.append(frame)
        return pd.concat(parts).sort_values("row").reset_index(drop=True)

    @staticmethod
    def summaries(km, codes: dict, labels: dict, rows: dict) -> list[dict]:
        """Per cluster (training rows): size, share, the rows nearest the centre, the most frequent label."""
        dist = km.transform(codes["train"])
        out = []
        for c in range(km.n_clusters):
            members = np.flatnonzero(km.labels_ == c)
            typical = members[np.argsort(dist[members, c])[:TYPICAL]]
            row = {"cluster": c, "size": int(len(members)), "share": round(len(members) / max(len(km.labels_), 1), 4),
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
        centers = self.cfg.get("cluster_centers")
        if not centers:
            raise NNGuruError("The run's config.yaml has no cluster_centers: it was not written by a finished "
                              "`nnguru train --task cluster`. Train it again.")
        codes = self.embed(model, output)
        dist = np.linalg.norm(codes[:, None, :] - np.asarray(centers, np.float32)[None], axis=-1)
        return {"cluster": dist.argmin(1), "distance": dist.min(1)}

    def score(self, model, ds) -> dict:
        """``nnguru evaluate``: the clusters of new rows against their labels."""
        from nnguru.tasks.reconstruction import label_values

        x = model.preprocessor.transform(ds.X)
        assigned = self.prediction_columns(model, x)["cluster"]
        return cluster_metrics(self.embed(model, x), assigned, label_values(ds.y), int(self.cfg.get("seed", 0)))
