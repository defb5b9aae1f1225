"""The building blocks of the HTML reports (:mod:`fastreg.cli.html_report`): the page and its
stylesheet, tables, the confusion matrix as a heat map, pictures inlined as ``data:`` URIs,
number formats, and the atomic write.

Rules every part keeps:

* Every string that comes from a run (class names, paths, the command, parameter values) goes
  through :func:`esc` (``html.escape``, quotes included): class names and file paths come from
  users' files. Numbers are formatted here, never pasted in raw.
* The page is self-contained: one inline ``<style>``, pictures as base64 ``data:`` URIs, no
  script, no font, no URL of any other site; it opens offline, from a mail attachment too.
  Links (a sweep's runs) are relative, starting with ``./``.
* A value that is missing or null (an older run, no validation or test set) is shown as
  :data:`MISSING`, never a crash.

Standard library only (the command line's imports stay light).
"""

import base64
import html
import math
import os
from pathlib import Path

from .. import _litter

MISSING = "\u2013"  # an en dash: "no value"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: A picture larger than this is not inlined (a run's PNGs are tens of kilobytes).
MAX_PICTURE_BYTES = 20 * 1024 * 1024

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; margin: 0 auto; padding: 1.5rem 1rem 3rem; max-width: 1000px;
       color: #1b1f24; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 0.2rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 0.6rem; padding-bottom: 0.2rem;
     border-bottom: 1px solid #d0d7de; }
.sub { color: #57606a; margin: 0 0 1rem; }
.banner { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
          padding: 0.6rem 0.9rem; margin: 1rem 0; }
.note { color: #57606a; font-size: 0.9rem; margin: 0.4rem 0; }
table { border-collapse: collapse; margin: 0.3rem 0; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #e5e8eb; text-align: left;
         vertical-align: top; }
thead th { border-bottom: 2px solid #d0d7de; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
tr.best td { background: #dafbe1; }
.scroll { overflow-x: auto; max-width: 100%; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.6rem;
      overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       font-size: 0.88rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e8eb; }
figcaption { color: #57606a; font-size: 0.9rem; }
table.heat { font-size: 0.85rem; }
table.heat td, table.heat th { border: 1px solid #fff; text-align: center; padding: 0.25rem;
                               min-width: 2.6rem; font-variant-numeric: tabular-nums; }
table.heat th { background: #f6f8fa; font-weight: 600; }
table.heat td.diag { outline: 2px solid #1b1f24; outline-offset: -2px; font-weight: 700; }
table.heat td.recall { background: #fff; color: #1b1f24; text-align: right; }
.legend { display: inline-block; width: 10rem; height: 0.8rem; vertical-align: middle;
          border: 1px solid #d0d7de; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr));
         gap: 0 2rem; }
"""


# --------------------------------------------------------------------------- text and numbers
def esc(value):
    """``value`` as HTML text: every ``< > & " '`` escaped (None is :data:`MISSING`)."""
    return MISSING if value is None else html.escape(str(value), quote=True)


def number(value):
    """``value`` as a finite float, or None (missing, null, NaN, text that is no number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt_loss(value):
    x = number(value)
    if x is None:
        return MISSING
    return f"{x:.4f}" if abs(x) < 1000 else f"{x:.3g}"


def fmt_percent(value):
    """An accuracy (a fraction) as a percentage."""
    x = number(value)
    return MISSING if x is None else f"{100 * x:.2f}%"


def fmt_brief(value):
    """A number to four significant digits."""
    x = number(value)
    return MISSING if x is None else f"{x:.4g}"


def fmt_seconds(value):
    x = number(value)
    if x is None:
        return MISSING
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


class Raw(str):
    """Text that is HTML already (formatted here): :func:`fmt_general` passes it through."""


def fmt_general(value):
    """Any value from a record: numbers briefly (``%g``), booleans as yes/no, text escaped
    (:class:`Raw` text as it is)."""
    if value is None:
        return MISSING
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else esc(value)
    return esc(value)


def fmt_yes_no(value):
    if value is None:
        return MISSING
    if isinstance(value, str):  # a value read back from a CSV file
        return esc(value)
    return "yes" if value else "no"


# --------------------------------------------------------------------------- tables
def table(head, rows, *, numeric=(), classes=None):
    """An HTML table; ``head`` and the cells of ``rows`` are HTML already (escape first).
    ``numeric``: the column indices aligned right; ``classes``: a CSS class per row or None."""
    out = ['<div class="scroll"><table>']
    if head:
        out.append("<thead><tr>")
        out += [f"<th{_num(i, numeric)}>{cell}</th>" for i, cell in enumerate(head)]
        out.append("</tr></thead>")
    out.append("<tbody>")
    for k, row in enumerate(rows):
        css = classes[k] if classes else None
        out.append(f'<tr class="{css}">' if css else "<tr>")
        out += [f"<td{_num(i, numeric)}>{cell}</td>" for i, cell in enumerate(row)]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _num(index, numeric):
    return ' class="num"' if index in numeric else ""


def key_value_table(pairs):
    """A two-column table of (name, value) with both escaped/formatted by :func:`fmt_general`."""
    return table(None, [(esc(k), fmt_general(v)) for k, v in pairs])


# --------------------------------------------------------------------------- heat map
#: The colour scale of the heat map, white to dark blue (ColorBrewer "Blues", 5 stops).
HEAT_STOPS = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))


def heat_colour(share):
    """The background (r, g, b) for a share in [0, 1] of a row, interpolated along HEAT_STOPS
    at the square root of the share: on a linear scale the confusions (a few percent of a row)
    would all look white beside the diagonal's 90%."""
    share = math.sqrt(min(max(share, 0.0), 1.0)) * (len(HEAT_STOPS) - 1)
    k = min(int(share), len(HEAT_STOPS) - 2)
    t = share - k
    lo, hi = HEAT_STOPS[k], HEAT_STOPS[k + 1]
    return tuple(round(a + (b - a) * t) for a, b in zip(lo, hi))


def text_colour(rgb):
    """Black or white, whichever contrasts more with ``rgb`` (WCAG relative luminance)."""

    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # contrast with black (L + 0.05) / 0.05 beats contrast with white 1.05 / (L + 0.05) above this
    return "#000" if luminance > 0.179 else "#fff"


def confusion_matrix(matrix, names):
    """The confusion matrix as a heat-map table (rows true class, columns predicted), each
    cell's colour its share of the row, the count written in it; the last column is the
    share of the class recognised (recall). None when ``matrix`` is not a square table of
    numbers (a damaged or foreign record)."""
    counts = _square(matrix)
    if counts is None:
        return None
    n = len(counts)
    labels = [str(x) for x in names] if isinstance(names, list) and len(names) == n else None
    labels = labels or [str(k) for k in range(n)]
    out = ['<div class="scroll"><table class="heat">', "<thead><tr>"]
    out.append('<th scope="col">true \\ predicted</th>')
    out += [f'<th scope="col">{esc(label)}</th>' for label in labels]
    out.append('<th scope="col">recall</th></tr></thead><tbody>')
    for i, row in enumerate(counts):
        total = sum(row)
        out.append(f'<tr><th scope="row">{esc(labels[i])}</th>')
        for j, count in enumerate(row):
            rgb = heat_colour(count / total if total > 0 else 0.0)
            style = f"background-color: rgb{rgb}; color: {text_colour(rgb)}"
            diag = ' class="diag"' if i == j else ""
            tip = f"true {labels[i]}, predicted {labels[j]}: {_count(count)}"
            out.append(f'<td{diag} style="{style}" title="{esc(tip)}">{_count(count)}</td>')
        recall = fmt_percent(row[i] / total) if total > 0 else MISSING
        out.append(f'<td class="recall">{recall}</td></tr>')
    out.append("</tbody></table></div>")
    return "".join(out)


def heat_legend():
    """A strip of the colour scale, for the note under the matrix."""
    stops = ", ".join(f"rgb{rgb}" for rgb in HEAT_STOPS)
    return f'<span class="legend" style="background: linear-gradient(to right, {stops})"></span>'


def _square(matrix):
    """``matrix`` as a list of rows of non-negative numbers, or None unless square."""
    if not isinstance(matrix, list) or not matrix:
        return None
    rows = []
    for row in matrix:
        if not isinstance(row, list) or len(row) != len(matrix):
            return None
        values = [number(v) for v in row]
        if any(v is None or v < 0 for v in values):
            return None
        rows.append(values)
    return rows


def _count(value):
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --------------------------------------------------------------------------- pictures
def picture(folder, name, caption):
    """A ``<figure>`` with the PNG ``folder/name`` inlined as a data: URI, or None when the
    file is missing, unreadable, too large or not a PNG."""
    path = Path(folder) / name
    try:
        if path.stat().st_size > MAX_PICTURE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG_SIGNATURE):
        return None
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (
        f'<figure><img src="{uri}" alt="{esc(caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def relative_link(folder, target):
    """A link to ``target`` relative to the report (``./folder/target``): percent-encoded, so a
    name never reads as another site (``//host``, ``http:``)."""
    from urllib.parse import quote

    parts = [p for p in str(folder).replace(os.sep, "/").split("/") if p not in ("", ".")]
    return "./" + "/".join(quote(p, safe="") for p in [*parts, target])


# --------------------------------------------------------------------------- page and file
def page(title, body):
    """The whole HTML document."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="fastreg">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


def section(heading, *parts):
    """An ``<h2>`` and its parts (HTML already); the parts that are None are left out."""
    inner = "\n".join(p for p in parts if p)
    return f"<section>\n<h2>{esc(heading)}</h2>\n{inner}\n</section>"


def write_atomic(folder, text, name="report.html"):
    """Write ``text`` to ``folder/name`` whole or not at all: into a temporary sibling
    (:func:`fastreg._litter.temp_name`), then ``os.replace``; return ``name``."""
    folder = Path(folder)
    _litter.remove_stale(folder, (".part",))
    temp = folder / _litter.temp_name(name, ".part")
    try:
        with open(temp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(temp, folder / name)
    finally:
        if os.path.lexists(temp):  # gone after a successful replace
            os.unlink(temp)
    return name
