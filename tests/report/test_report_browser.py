"""report.html in a real browser: every image decodes and the page logs no error.

Needs Chromium (Debian: ``apt-get install -y chromium``; CI installs it). The report itself has
no script: the test loads a copy with a small probe script in front, which records error events
and ``console.error`` calls and, once the page has loaded, writes the result into the DOM that
``--dump-dom`` prints. Chromium's own console log (``--enable-logging=stderr``) is checked too,
and every host name resolves to nothing, so any request leaving the file would fail loudly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nnguru.report import write_report

PROBE = """<script>
window.__probe = [];
window.addEventListener("error", function (e) {
  var t = e.target && e.target !== window ? (e.target.tagName + " " + String(e.target.src ||
          e.target.href || "").slice(0, 60)) : "";
  window.__probe.push("error: " + (e.message || "resource failed") + " " + t);
}, true);
var _ce = console.error;
console.error = function () {
  window.__probe.push("console.error: " + Array.prototype.join.call(arguments, " "));
  _ce.apply(console, arguments);
};
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                   .map(function (i) { return i.alt; });
  var out = document.createElement("pre");
  out.id = "nnguru-probe";
  out.textContent = JSON.stringify({images: imgs.length, broken: broken,
                                    errors: window.__probe, title: document.title});
  document.body.appendChild(out);
});
</script>"""

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
                  "--virtual-time-budget=10000"]


def chromium() -> str | None:
    for name in (os.environ.get("NNGURU_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def render(html_path: Path, tmp_path: Path) -> tuple[dict, list[str]]:
    """(probe result, console lines Chromium logged) for one page."""
    exe = chromium()
    if exe is None:
        pytest.skip("Chromium not found: install it with `apt-get install -y chromium` "
                    "(Debian) or set NNGURU_CHROMIUM to the browser's path")
    profile = tmp_path / "chromium-profile"
    proc = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                           html_path.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="nnguru-probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, "the probe did not run: " + proc.stdout[-500:] + proc.stderr[-1000:]
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    probe = json.loads(text.replace("&amp;", "&"))
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    return probe, console


def probed_copy(report: Path, tmp_path: Path) -> Path:
    html = report.read_text(encoding="utf-8")
    copy = tmp_path / "probed.html"
    copy.write_text(html.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    return copy


@pytest.mark.parametrize("fixture", ["classification_run", "regression_run"])
def test_report_renders_in_chromium(fixture, request, tmp_path: Path):
    run = request.getfixturevalue(fixture)
    report = write_report(run)
    probe, console = render(probed_copy(report, tmp_path), tmp_path)
    assert probe["images"] == report.read_text().count("<img ")
    assert probe["images"] >= 2
    assert probe["broken"] == []
    assert probe["errors"] == []
    assert probe["title"].startswith("nnguru report: ")
    # Chromium's own log of the page: the probe's console lines aside, nothing at all.
    assert [c for c in console if "nnguru-probe" not in c] == []


def test_probe_catches_a_broken_image(classification_run: Path, tmp_path: Path):
    """The check is real: a corrupt image, an outside request and a console error show up."""
    report = write_report(classification_run)
    html = report.read_text(encoding="utf-8").replace(
        'src="data:image/png;base64,', 'src="data:image/png;base64,AAAA', 1)
    html = html.replace("</body>", '<img src="https://example.com/x.png" alt="outside">'
                        "<script>console.error('planted')</script></body>")
    broken = tmp_path / "broken.html"
    broken.write_text(html, encoding="utf-8")
    probe, console = render(probed_copy(broken, tmp_path), tmp_path)
    assert len(probe["broken"]) == 2 and "outside" in probe["broken"]
    assert any("planted" in e for e in probe["errors"])
    assert any("example.com" in e for e in probe["errors"])
    assert any("planted" in line for line in console)
