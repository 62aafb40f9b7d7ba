"""``collapse-theory reproduce``: every section at the command's smallest setting (``--smoke``,
tiny sizes), the report it writes (JSON, Markdown, a self-contained HTML page whose images are
inline PNGs), every figure's command (it parses, and one redraws the same bytes), and bad input
refused before any work."""

import base64
import json
import shlex
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from collapse_theory.cli import build_parser, main

PNG = b"\x89PNG\r\n\x1a\n"


def _run(folder, names: str) -> dict:
    assert main(["reproduce", "--smoke", "--only", names, "--report", str(folder),
                 "--seed", "3"]) == 0
    return json.loads((folder / "report.json").read_text())


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tags, self.tables = [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.tables += tag == "table"
        if tag == "img":
            self.images.append(dict(attrs)["src"])


def _check_report(folder, doc, names):
    """Every section reports the paper beside ours with its figures; the Markdown shows the
    headline and every figure with its command; the HTML page is self-contained (the fallback
    of a browser render: it parses, every image is an inline PNG equal to the figure's file,
    one per figure, a table per section and the headline's)."""
    assert [s["name"] for s in doc["sections"]] == names
    assert [h["section"] for h in doc["headline"]] == names
    assert doc["meta"]["scale"] == "smoke" and doc["meta"]["seed"] == 3
    figures = [f for s in doc["sections"] for f in s["figures"]]
    for section in doc["sections"]:
        assert section["rows"] and section["differs"] and section["figures"]
        for row in section["rows"]:
            assert all(str(row[k]).strip() for k in ("quantity", "paper", "ours", "source"))
    for fig in figures:
        assert (folder / fig["file"]).read_bytes().startswith(PNG)
    text = (folder / "report.md").read_text()
    assert "## Headline: the paper's numbers beside ours" in text
    assert all(s["title"] in text for s in doc["sections"])
    assert all(f"]({f['file']})" in text and f["command"] in text for f in figures)
    page = _Page()
    page.feed((folder / "report.html").read_text())
    page.close()
    assert page.tags[0] == "html" and page.tables == len(names) + 1
    assert len(page.images) == len(figures)
    prefix = "data:image/png;base64,"
    for src, fig in zip(page.images, figures):
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix):]) == (folder / fig["file"]).read_bytes()
    parser = build_parser()
    for fig in figures:  # every figure is a figure command
        words = shlex.split(fig["command"])
        assert words[:2] == ["collapse-theory", "figure"]
        assert parser.parse_args(words[1:]).out == fig["file"]


# One test per section (the suite runs them in parallel); together they run every section of
# the command at its smallest setting.  Two sections in one run check the report's assembly.
@pytest.mark.parametrize("names", ["discrete", "gaussian", "gmm,vae", "lm", "policies"])
def test_each_section_at_the_smallest_setting(names, tmp_path):
    doc = _run(tmp_path, names)
    _check_report(tmp_path, doc, names.split(","))
    if names == "lm":
        texts = doc["sections"][0]["texts"]
        assert texts[0]["generation"] == 0 and all(t["text"] for t in texts)
    if names == "gaussian":
        # Same seed, same sizes, same picture: the W2 figure's command redraws the PNG.
        fig = next(f for f in doc["sections"][0]["figures"] if f["file"] == "gaussian_w2.png")
        words = shlex.split(fig["command"])[1:]
        words[words.index("--out") + 1] = str(tmp_path / "again.png")
        assert main(words) == 0
        assert (tmp_path / "again.png").read_bytes() == (tmp_path / fig["file"]).read_bytes()


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
                    reason="no Chromium on this machine (the HTML is checked by parsing instead)")
def test_html_renders_in_headless_chromium(tmp_path):
    _run(tmp_path, "gmm")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={shot}", "--window-size=1200,3000",
                    (tmp_path / "report.html").as_uri()], check=True, timeout=120,
                   capture_output=True)
    assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 10_000


@pytest.mark.parametrize("argv, message", [
    (["--only", "gaussian,nope"], "only must name sections among discrete, gaussian"),
    (["--seed", "-1"], "seed"),
    (["--quick", "--full"], "not allowed with argument"),
])
def test_bad_input_is_refused_before_any_work(argv, message, tmp_path, capsys):
    folder = tmp_path / "never"
    assert main(["reproduce", "--report", str(folder), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not folder.exists()
