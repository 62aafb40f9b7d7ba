"""Writing a reproduction run: ``report.json``, ``report.md`` and a self-contained
``report.html`` (figures inline as base64 PNG), each written whole or not at all."""

from __future__ import annotations

import base64
import html
import json
import os

from .. import _io
from .section import Row, Section

_COLUMNS = ("quantity", "the paper", "ours", "the paper's number comes from")


def as_dict(sections: list[Section], meta: dict) -> dict:
    return {"meta": meta,
            "headline": [s.headline._asdict() | {"section": s.name} for s in sections],
            "sections": [{"name": s.name, "title": s.title, "seconds": meta["seconds"][s.name],
                          "rows": [r._asdict() for r in s.rows], "differs": s.differs,
                          "figures": [f._asdict() for f in s.figures],
                          "texts": [{"generation": g, "text": t} for g, t in s.texts]}
                         for s in sections]}


def _md_table(rows: list[Row], first: str = "quantity") -> list[str]:
    cells = [(first, *_COLUMNS[1:]), ("---",) * 4] + [tuple(map(str, row)) for row in rows]
    return ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in cells]


def markdown(sections: list[Section], meta: dict) -> str:
    lines = ["# Shumailov et al. (2024), reproduced by collapse_theory", "", _summary(meta), "",
             "## Headline: the paper's numbers beside ours", ""]
    lines += _md_table([s.headline for s in sections], "experiment") + [""]
    for s in sections:
        lines += [f"## {s.title}", "", *_md_table(s.rows), "", f"*What differs:* {s.differs}", ""]
        if s.texts:
            lines += ["Example continuations of one chain (the paper's Example 1):", ""]
            lines += [f"- generation {g}: {t}" for g, t in s.texts] + [""]
        for f in s.figures:
            lines += [f"![{f.caption}]({f.file})", "", f"{f.caption} `{f.command}`", ""]
    return "\n".join(lines)


def _summary(meta: dict) -> str:
    return (f"`{meta['command']}` — scale {meta['scale']}, seed {meta['seed']}, "
            f"{meta['total_seconds']:.0f} s on {meta['device']} (collapse_theory "
            f"{meta['package']}, jax {meta['jax']}). Our generation g is the g-th fit: the "
            "paper's generation g − 1.")


def _html_table(rows: list[Row], first: str = "quantity") -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in (first, *_COLUMNS[1:]))
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
          "color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
          "padding:.3em .6em;vertical-align:top;font-size:.92em}th{background:#f3f3f3}"
          "img{max-width:100%;border:1px solid #eee}code{background:#f6f6f6;padding:0 .2em}"
          "figure{margin:1.5em 0}figcaption{font-size:.9em;color:#444}")


def html_page(sections: list[Section], meta: dict, directory: str) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<title>Shumailov et al. (2024), reproduced</title>", f"<style>{_STYLE}</style>",
             "</head><body>", "<h1>Shumailov et al. (2024), reproduced by collapse_theory</h1>",
             f"<p>{esc(_summary(meta))}</p>", "<h2>Headline: the paper's numbers beside ours</h2>",
             _html_table([s.headline for s in sections], "experiment")]
    for s in sections:
        parts += [f"<h2 id='{esc(s.name)}'>{esc(s.title)}</h2>", _html_table(s.rows),
                  f"<p><em>What differs:</em> {esc(s.differs)}</p>"]
        if s.texts:
            parts.append("<p>Example continuations of one chain (the paper's Example 1):</p><ul>"
                         + "".join(f"<li>generation {g}: {esc(t)}</li>" for g, t in s.texts)
                         + "</ul>")
        for f in s.figures:
            with open(os.path.join(directory, f.file), "rb") as fh:
                data = base64.b64encode(fh.read()).decode("ascii")
            parts.append(f"<figure><img alt='{esc(f.caption)}' src='data:image/png;base64,"
                         f"{data}'><figcaption>{esc(f.caption)} <code>{esc(f.command)}</code>"
                         "</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(directory: str, sections: list[Section], meta: dict) -> list[str]:
    """Write ``report.json``, ``report.md`` and ``report.html``; return their paths."""
    paths = [os.path.join(directory, f"report.{ext}") for ext in ("json", "md", "html")]
    _io.write_text(paths[0], json.dumps(as_dict(sections, meta), indent=2, default=float))
    _io.write_text(paths[1], markdown(sections, meta))
    _io.write_text(paths[2], html_page(sections, meta, directory))
    return paths
