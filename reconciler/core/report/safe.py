"""Output that cannot be forged: hostile text made harmless for each place it is printed. Pure.

Names and emails come from Genesys, reasons and tickets from files anyone
can propose in a pull request, error messages from Genesys's answers. Any of
them may hold an ANSI escape (clear the screen, move the cursor), a carriage
return (overwrite the line) or a newline (print a fake ``Plan: 0 to
deactivate`` into a CI log that reviewers read), a bidirectional override
(reorder what is shown), a spreadsheet formula, or Markdown that turns a
pull-request comment into a link. Every rendering passes such values through
here:

* ``visible``: for terminals and logs. Every character that is not printable
  (C0 and C1 controls, DEL, Unicode format and separator characters such as
  U+202E or U+2028) is shown as its escape (``\\x1b``, ``\\n``, ``\\u202e``):
  still readable, never acted on. Applied to each line a renderer builds, so
  a value cannot start a line of its own.
* ``csv_cell``: for spreadsheets, as OWASP recommends against formula
  injection: a cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return (after any spaces) is prefixed with ``'`` so it is read as
  text; controls are made visible first.
* ``md_text`` / ``md_code``: for Markdown (pull-request comments, job
  summaries): Markdown punctuation is backslash-escaped so a value cannot
  become a link, an image, emphasis, HTML or a table cell of its own; a code
  span is fenced with more backticks than it contains.

JSON needs nothing: ``json.dumps`` escapes every control character.
"""

from __future__ import annotations

import re

__all__ = ["csv_cell", "md_code", "md_text", "visible", "visible_lines"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: object) -> str:
    """``text`` with every non-printable character shown as its escape (a space stays a space)."""
    s = str(text)
    if s.isprintable():  # the usual case, and a fast one
        return s
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in s)


def visible_lines(lines: list[str]) -> str:
    """The lines a renderer built, each made visible, joined: a value can never start a line of its own."""
    return "\n".join(map(visible, lines)) + "\n"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value safe to open in a spreadsheet. Numbers and None pass as they are."""
    if value is None or isinstance(value, (int, float)):
        return value
    s = str(value)
    if s.lstrip(" ").startswith(_FORMULA_START):
        s = "'" + s
    return visible(s)


# Everything CommonMark or GitHub's extensions can read as markup inside a line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md_text(value: object) -> str:
    """Plain text inside Markdown: markup characters escaped, controls visible, one line."""
    return _MD_SPECIAL.sub(r"\\\1", visible(value))


def md_code(value: object, *, in_table: bool = False) -> str:
    """A code span for ``value`` that no backtick inside it can close early (nor a pipe end a table cell)."""
    s = visible(value)
    if in_table:
        s = s.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"
