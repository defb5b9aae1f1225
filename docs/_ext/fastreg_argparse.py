"""``.. argparse-program:: module:function``: the reference of a command-line program, rendered
from its :mod:`argparse` parser at build time, so it cannot drift from the code.

The function is called with no arguments and returns the parser. For the program and each of
its subcommands the directive emits a section holding the usage line, the description, and one
definition list per argument group: each option as ``--help`` spells it (``--epochs N``) with its
help text expanded exactly as ``--help`` expands it (defaults and choices included). No part of
the help text is parsed as reStructuredText: what ``--help`` prints is what the page shows.
"""

import argparse
import contextlib
import importlib
import os

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def _load(spec):
    module, _, func = spec.partition(":")
    if not func:
        raise ValueError(f"expected 'module:function', got {spec!r}")
    return getattr(importlib.import_module(module), func)()


def _subcommands(parser):
    """(name, help, subparser) of each subcommand of ``parser``, in declaration order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name), sub


#: argparse wraps the usage lines at $COLUMNS; the page should not depend on the terminal.
WIDTH = 88


@contextlib.contextmanager
def _columns(width):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


class ArgparseProgram(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self):
        parser = _load(self.arguments[0])
        prog = parser.prog
        with _columns(WIDTH):
            nodes_out = [*self._body(parser, with_subcommands=True)]
            for name, help_text, sub in _subcommands(parser):
                nodes_out.append(self._section(f"{prog} {name}", sub, help_text))
        return nodes_out

    # ------------------------------------------------------------------ pieces
    def _section(self, title, parser, summary):
        section = nodes.section(
            ids=[nodes.make_id(title)], names=[nodes.fully_normalize_name(title)]
        )
        section += nodes.title(text=title)
        self.state.document.note_implicit_target(section, section)
        if summary:
            section += nodes.paragraph(text=summary[0].upper() + summary[1:] + ".")
        section.extend(self._body(parser, with_subcommands=False))
        return section

    def _body(self, parser, with_subcommands):
        formatter = parser._get_formatter()
        usage = parser.format_usage().strip()
        block = nodes.literal_block(usage, usage)
        block["language"] = "none"
        out = [block]
        if parser.description:
            out.append(nodes.paragraph(text=parser.description))
        if with_subcommands:
            commands = list(_subcommands(parser))
            if commands:
                out.append(nodes.rubric(text="commands"))
                out.append(self._list((name, help_text or "") for name, help_text, _ in commands))
        for group in parser._action_groups:
            entries = []
            for action in group._group_actions:
                if action.help == argparse.SUPPRESS or isinstance(
                    action, argparse._SubParsersAction
                ):
                    continue
                entries.append(
                    (
                        self._invocation(formatter, action),
                        formatter._expand_help(action) if action.help else "",
                    )
                )
            if entries:
                out.append(nodes.rubric(text=group.title))
                out.append(self._list(entries))
        return out

    @staticmethod
    def _invocation(formatter, action):
        return formatter._format_action_invocation(action)

    @staticmethod
    def _list(entries):
        dl = nodes.definition_list()
        for term, text in entries:
            item = nodes.definition_list_item()
            item += nodes.term("", "", nodes.literal(text=term))
            definition = nodes.definition()
            if text:
                definition += nodes.paragraph(text=text)
            item += definition
            dl += item
        return dl


def setup(app):
    app.add_directive("argparse-program", ArgparseProgram)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
