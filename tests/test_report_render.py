"""The HTML comparison report as a browser shows it: headless Chromium renders report.html (built
from real AN4 transcripts by test_report's fixture), dumps the DOM and takes a screenshot.

Checks: the results table has a row per system; the embedded PNG decodes in the browser to the
size its own header gives; the screenshot is not blank and shows the table's header and the bars
in each pipeline's colour. Skipped when no Chromium is installed
(Debian: `apt-get install -y --no-install-recommends chromium`).
"""
import base64
import json
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from asr.report import OTHER_COLOUR, PIPELINE_COLOURS
from test_report import an4_refs, report  # noqa: F401  (fixtures: the report over real AN4 transcripts)

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="headless Chromium not installed "
                                "(apt-get install -y --no-install-recommends chromium)")

# Sandbox- and CI-safe: no GPU, no network chatter, a fresh profile per run
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
WINDOW = (1280, 1400)  # pixels: wide enough that the plot is shown at its natural size
BROWSER_SECONDS = 60  # one render takes about a second; generous for a loaded CI machine
HEADER_GREY = "#eeeeee"  # the table header background in asr.report's stylesheet
MIN_COLOURED_PIXELS = 2000  # a bar or the header row covers far more; a stray glyph far fewer
MIN_DISTINCT_COLOURS = 100  # anti-aliased text and plot lines; a blank page has one or two
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Appended to a copy of the page (the report itself stays script-free): after the load event,
# write each image's decoded size into the DOM, where --dump-dom can see it.
IMAGE_PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "image-probe";
  out.textContent = JSON.stringify(Array.from(document.images,
    img => ({complete: img.complete, width: img.naturalWidth, height: img.naturalHeight})));
  document.body.appendChild(out);
});
</script>"""


def chromium(page, *args, tmp_path) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [BROWSER, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=BROWSER_SECONDS, cwd=tmp_path)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}"
    return done


class _Table(HTMLParser):
    """Rows of cell texts of every table, and the src of every img."""

    def __init__(self):
        super().__init__()
        self.rows, self.imgs, self.in_cell = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.in_cell = True
            self.rows[-1].append("")
        elif tag == "img":
            self.imgs.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.in_cell = False

    def handle_data(self, data):
        if self.in_cell:
            self.rows[-1][-1] += data


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first chunk, right after the signature)."""
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def hex_rgb(colour: str) -> int:
    return int(colour.lstrip("#"), 16)


@pytest.fixture(scope="module")
def page(report):
    return report["out"] / "report.html"


@pytest.fixture(scope="module")
def summary(report):
    return json.loads((report["out"] / "summary.json").read_text())


def test_dom_has_the_table_and_a_decoded_plot(page, summary, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", IMAGE_PROBE + "\n</body>"))
    dom = chromium(probed, "--dump-dom", tmp_path=tmp_path).stdout

    parsed = _Table()
    parsed.feed(dom)
    header, *rows = parsed.rows
    assert header[:4] == ["System", "Pipeline", "Units", "WER %"]
    assert [r[0] for r in rows] == [s["system"] for s in summary]
    assert [float(r[3]) for r in rows] == pytest.approx([s["wer"] for s in summary], abs=0.005)

    (src,) = parsed.imgs
    png = base64.b64decode(src.split(",", 1)[1])
    width, height = png_size(png)
    assert width >= 300 and height >= 200  # a readable chart, not a thumbnail or a 1-pixel image
    (decoded,) = json.loads(re.search(r'<pre id="image-probe">(.*?)</pre>', dom, re.S)[1])
    assert decoded == {"complete": True, "width": width, "height": height}  # the browser decoded it


def test_screenshot_shows_the_table_and_the_bars(page, summary, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    chromium(page, f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={shot}", tmp_path=tmp_path)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int64)
    assert pixels.shape == (WINDOW[1], WINDOW[0], 3)
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    colours, counts = np.unique(packed, return_counts=True)
    assert len(colours) >= MIN_DISTINCT_COLOURS, "the screenshot is (nearly) blank"
    count = dict(zip(colours.tolist(), counts.tolist()))
    assert count.get(hex_rgb(HEADER_GREY), 0) >= MIN_COLOURED_PIXELS, "no table header in the screenshot"
    for pipeline in {s["pipeline"] for s in summary}:  # None: a system without model.yaml, drawn grey
        bar = PIPELINE_COLOURS.get(pipeline, OTHER_COLOUR)
        assert count.get(hex_rgb(bar), 0) >= MIN_COLOURED_PIXELS, f"no {bar} bar for pipeline {pipeline}"
