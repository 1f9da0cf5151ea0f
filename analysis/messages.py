"""Every message this package prints goes through ``printable`` (one helper for all printers).

Raw values reach messages (a validation failure quotes the cell, compare lists changed values):
a terminal escape sequence, a NUL, a carriage return or a bidirectional override in a raw value
must not act on the reader's terminal or forge a line. They are shown escaped instead
(``\\x1b``, ``\\x00``, ``\\u202e``). ``say`` prints to stderr, ``tell`` to stdout.

This module is light (no pandas): the CLI and the build engine use it on the fast path.
"""

from __future__ import annotations

import re
import sys

# Control characters (C0, DEL, C1), line/paragraph separators and bidirectional controls. The
# validation rule "no control characters in a raw value" uses the same set (validation.frames).
CONTROL_RANGES = ((0x00, 0x1F), (0x7F, 0x9F), (0x2028, 0x2029), (0x202A, 0x202E), (0x2066, 0x2069))
CONTROL_CHARS = "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in CONTROL_RANGES)   # for a regex class
CONTROL = re.compile(f"[{CONTROL_CHARS}]")


def regex_class_literal(chars: str) -> str:
    """Characters for a regex class that pandas' pyarrow (RE2) engine can take, so a 10^6-row
    column is searched vectorised: \\xNN for Latin-1, the literal character above (pandas would
    fall back to Python's re, ~9x slower, for \\u escapes or \\s)."""
    return "".join(f"\\x{ord(c):02x}" if ord(c) <= 0xFF else c for c in chars)


CONTROL_LITERAL = regex_class_literal("".join(chr(c) for a, b in CONTROL_RANGES for c in range(a, b + 1)))
WHITESPACE_LITERAL = regex_class_literal("".join(chr(c) for c in range(0x3001) if chr(c).isspace()))
_CONTROL_BUT_NEWLINE = re.compile(f"(?!\n)[{CONTROL_CHARS}]")


def escape_char(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape; ``keep_newlines`` keeps the
    line breaks of a multi-line message (a raw value is escaped before it is put into one)."""
    pattern = _CONTROL_BUT_NEWLINE if keep_newlines else CONTROL
    return pattern.sub(lambda m: escape_char(m.group(0)), str(text))


def say(msg: str) -> None:
    """A progress or error message on stderr, control characters escaped."""
    print(printable(msg, keep_newlines=True), file=sys.stderr, flush=True)


def tell(msg: str) -> None:
    """Output meant for stdout (listings), control characters escaped."""
    print(printable(msg, keep_newlines=True), flush=True)
