"""report.html: self-contained, escaped, built only from the run directory, sections optional."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from nnguru.errors import NNGuruError
from nnguru.report import write_report


class Page(HTMLParser):
    """Collects tags, attributes and section ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    def sections(self) -> list[str]:
        return [a["id"] for a in self.all("section")]


def parse(path: Path) -> tuple[str, Page]:
    text = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    return text, page


def decode_images(page: Page) -> list[tuple[int, int]]:
    sizes = []
    for img in page.all("img"):
        src = img["src"]
        assert src.startswith("data:image/png;base64,"), src[:40]
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
            im.load()
            sizes.append(im.size)
    return sizes


def test_full_report_has_every_section_and_embedded_images(classification_run: Path):
    path = write_report(classification_run)
    assert path == classification_run / "report.html"
    text, page = parse(path)
    assert page.sections() == ["summary", "diagnosis", "metrics", "per-class", "curves",
                               "figures", "autofix", "data", "model", "config", "environment"]
    sizes = decode_images(page)
    assert len(sizes) == 3  # history, confusion matrix, ROC/PR
    assert all(w > 100 and h > 100 for w, h in sizes)
    for phrase in ("Test metrics vs baseline", "majority class benign", "positive class",
                   "precision/recall trade-off", "Chosen threshold", "Total params: 4,810",
                   "Before vs after", "dropout 0 -&gt; 0.3 (overfitting)", "Diagnosis after: healthy",
                   "Use class weights.", "Epoch table (12 epochs)"):
        assert phrase in text, phrase


def test_report_is_self_contained_and_escaped(classification_run: Path):
    text, page = parse(write_report(classification_run))
    assert not page.all("script") and not page.all("link") and not page.all("iframe")
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)  # no event handlers sneaked in
            if name in ("src", "href"):
                assert value.startswith(("data:", "#")), (tag, value[:60])
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)
    assert "<script>alert" not in text and "onerror=alert(1)>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert len(page.all("img")) == 3  # the hostile <img> in labels stayed text


def test_missing_optional_files_omit_their_sections(regression_run: Path):
    text, page = parse(write_report(regression_run))
    assert page.sections() == ["summary", "diagnosis", "metrics", "curves", "figures",
                               "environment"]
    assert "Not recorded with the run" in text and "scikit-learn" in text
    assert "mean of the training targets" in text and "r2" in text
    # history.png was missing: drawn from history.csv in memory, nothing written.
    assert len(decode_images(page)) == 2
    assert not (regression_run / "history.png").exists()


def test_empty_run_directory_still_builds(tmp_path: Path):
    text, page = parse(write_report(tmp_path))
    assert page.sections() == ["environment"]
    with pytest.raises(NNGuruError, match="does not exist"):
        write_report(tmp_path / "nope")


def test_report_rebuilds_from_files_alone(classification_run: Path, tmp_path: Path):
    first = write_report(classification_run).read_text(encoding="utf-8")
    moved = tmp_path / "copy" / classification_run.name
    shutil.copytree(classification_run, moved)
    second = write_report(moved).read_text(encoding="utf-8")
    strip = lambda s: re.sub(r"Built [^<]* by", "", s)  # noqa: E731  (timestamp only)
    assert strip(first) == strip(second)


def test_garbage_files_do_not_break_the_report(classification_run: Path):
    (classification_run / "metrics.json").write_text("{not json")
    (classification_run / "config.yaml").write_text("a: [unclosed")
    (classification_run / "diagnosis.json").write_text('{"not": "a list"}')
    (classification_run / "history.csv").write_text("")
    text, page = parse(write_report(classification_run))
    assert "metrics" not in page.sections() and "diagnosis" not in page.sections()
    assert "config" in page.sections()  # shown as text even when it does not parse


def test_monitor_section_plots_gradient_norms_and_tables_the_last_sample(tmp_path: Path):
    import numpy as np

    import nnguru
    from nnguru.layers import Dense
    from nnguru.training.monitor import NetworkMonitor

    nnguru.set_seed(0)
    x = np.random.default_rng(0).normal(size=(96, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = nnguru.Sequential([Dense(8, activation="relu", input_shape=(5,), name="<b>hidden</b>"),
                               Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    mon = NetworkMonitor(every=2)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[mon])
    mon.save(tmp_path / "monitor.json")
    text, page = parse(write_report(tmp_path))
    assert page.sections() == ["monitor", "environment"]
    assert len(decode_images(page)) == 1
    last = mon.samples[-1]
    assert f"step {last['step']}" in text and "&lt;b&gt;hidden&lt;/b&gt;" in text and "<b>hidden" not in text
    assert f"{last['grad_norm'][0]:.3g}" in text and f"{last['dead'][0]:.0%}" in text
    assert text.count("<tr>") == 1 + len(mon.layers)  # header + one row per monitored layer

def test_report_shows_the_estimate_and_the_time_budget(tmp_path: Path):
    metrics = {"task": "classification", "test": {"accuracy": 0.9}, "epochs_run": 7, "train_seconds": 90.4,
               "estimate_seconds": 88.0, "estimate": {"seconds": 88.0, "error": -0.0265},
               "time_budget": {"seconds": 90.0, "reached": True, "best_epoch": 5}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    text, _ = parse(write_report(tmp_path))
    assert "estimated seconds" in text and "-3% vs actual" in text
    assert "time budget (s)" in text and "reached: stopped, best epoch 5 kept" in text
