"""Read fastreg's docstrings as numpydoc sections.

fastreg's docstrings follow numpydoc's section layout with four liberties that read well in
``help()`` but that numpydoc would mis-parse (it drops an unknown section, and takes every
line at the left margin of a section for a parameter):

* a section header with a remark, ``Parameters (checked at fit time by ...)``: read as
  ``Parameters`` (the remark is dropped; the underline is fitted to the name);
* several short entries on one line, ``batch_size : int >= 1, default=32. max_epochs : ...``
  (entries separated by ``. `` or ``; ``): split into one entry each;
* an entry's description begun on its first line, ``X : (n, d) array. C-contiguous ...``:
  the type ends at the first ``". "`` outside brackets and literals, the rest starts the
  description (numpydoc would show the whole line as the type);
* a free paragraph inside a section (``X is a dense array ...``): moved to the ``Notes``
  section, after the notes already there.

The docstrings are plain text for ``help()`` that use reStructuredText only for inline
literals (````x````), roles (``:class:`...```) and literal blocks (``::``). Elsewhere the
characters that reStructuredText would read as markup are escaped, so that the page shows what
``help()`` shows: ``coef_`` (not a link target), ``||W||^2`` (not a substitution),
``X * input_scale`` (not emphasis).

This runs on ``autodoc-process-docstring`` before numpydoc (priority 100 < 500); it only
rearranges lines and escapes those characters, never rewrites the words.
"""

import re

SECTIONS = (
    "Parameters",
    "Other Parameters",
    "Returns",
    "Yields",
    "Receives",
    "Raises",
    "Warns",
    "Warnings",
    "Attributes",
    "Methods",
    "See Also",
    "Notes",
    "References",
    "Examples",
)
ENTRY_SECTIONS = {
    "Parameters",
    "Other Parameters",
    "Returns",
    "Yields",
    "Receives",
    "Raises",
    "Warns",
    "Attributes",
    "Methods",
}
_NAME = r"\*{0,2}[A-Za-z_]\w*"
# an entry line: "name : type" or "a, b : type", or a bare name (a Returns type, say)
ENTRY = re.compile(rf"^{_NAME}(?:, ?{_NAME})*(?: : .*)?$|^{_NAME} ?:$")
# where a second entry starts inside a line: after ". " or "; ", "name : "
SPLIT = re.compile(rf"(?<=[.;]) (?={_NAME}(?:, ?{_NAME})* : )")


def _is_underline(line):
    s = line.strip()
    return len(s) >= 3 and set(s) == {"-"}


def _header(lines, i):
    """The section name if lines[i] heads a section, else None."""
    if i + 1 >= len(lines) or not _is_underline(lines[i + 1]):
        return None
    text = lines[i].strip()
    for name in SECTIONS:
        if text == name or text.startswith(name + " ("):
            return name
    return None


def _split_type(line):
    """``["name : type.", "    description ..."]`` for an entry line whose description begins
    on it (after the first ". " outside brackets and literals), else ``[line]``."""
    head, sep, rest = line.partition(" : ")
    if not sep:
        return [line]
    depth, literal, i = 0, False, 0
    while i < len(rest) - 1:
        if rest.startswith("``", i):
            literal, i = not literal, i + 2
            continue
        c = rest[i]
        if not literal:
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif c == "." and rest[i + 1] == " " and depth == 0 and rest[i + 2 :].strip():
                return [f"{head} : {rest[: i + 1]}", "    " + rest[i + 2 :]]
        i += 1
    return [line]


def _entries(line):
    """The entry lines of one line at the margin (several entries, each maybe split)."""
    return [part for entry in SPLIT.split(line) for part in _split_type(entry)]


def normalise(lines):
    """Return the docstring ``lines`` rearranged for numpydoc (a new list)."""
    out, notes, section, free = [], [], None, False
    i = 0
    while i < len(lines):
        line = lines[i]
        name = _header(lines, i)
        if name is not None:
            section, free = name, False
            if name == "Notes":
                i += 2  # the notes are emitted once, at the end, with the moved paragraphs
                while i < len(lines) and _header(lines, i) is None:
                    notes.append(lines[i])
                    i += 1
                notes.append("")
                section = None
                continue
            out += [name, "-" * len(name)]
            i += 2
            continue
        if section in ENTRY_SECTIONS and line.strip():
            if not line.startswith(" "):  # at the margin: an entry or a free paragraph
                if ENTRY.match(line):  # an entry also ends a free paragraph
                    free = False
                    out.extend(_entries(line))
                    i += 1
                    continue
                free = True
            elif not free:
                parts = SPLIT.split(line)  # a continuation line may start the next entry
                out.append(parts[0])
                out.extend(part for p in parts[1:] for part in _split_type(p))
                i += 1
                continue
            if free:
                notes.append(line.strip() if not line.startswith(" ") else line)
                i += 1
                continue
        if section in ENTRY_SECTIONS and not line.strip() and free:
            notes.append("")
            free = False
            i += 1
            continue
        out.append(line)
        i += 1
    while notes and not notes[-1].strip():
        notes.pop()
    if notes:
        while out and not out[-1].strip():
            out.pop()
        out += ["", "Notes", "-----", *notes]
    return out


# inline literals and interpreted text (roles), left as they are
_PROTECTED = re.compile(r"``.+?``|(?::[\w:.-]+:)?`[^`]+`_{0,2}")
# a trailing underscore (a reference: coef_), a bar (a substitution: ||W||), a star (emphasis)
_MARKUP = re.compile(r"(?<=\w)_(?![\w{])|[|*]")


def _escape_text(text):
    out, pos = [], 0
    for m in _PROTECTED.finditer(text):
        out.append(_MARKUP.sub(lambda c: "\\" + c.group(0), text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_MARKUP.sub(lambda c: "\\" + c.group(0), text[pos:]))
    return "".join(out)


def escape(lines):
    """Escape the markup characters of ``lines`` outside inline literals, roles and literal
    blocks (the indented lines after a line ending in ``::``)."""
    out, block_indent, in_block = [], None, False
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if in_block:
            if not line.strip() or indent > block_indent:
                out.append(line)
                continue
            in_block = False
        out.append(_escape_text(line))
        if line.rstrip().endswith("::"):
            in_block, block_indent = True, indent
    return out


def _process(app, what, name, obj, options, lines):
    lines[:] = escape(normalise(lines))


def setup(app):
    app.connect("autodoc-process-docstring", _process, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
