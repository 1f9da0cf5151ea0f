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
CONTROL_CHARS = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
CONTROL = re.compile(f"[{CONTROL_CHARS}]")
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
