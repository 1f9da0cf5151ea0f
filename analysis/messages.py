"""Every message this package prints goes through ``printable`` (one helper for all printers).

Raw values reach messages (a validation failure quotes the cell, compare lists changed values):
a terminal escape sequence, a NUL, a carriage return or a bidirectional override in a raw value
must not act on the reader's terminal or forge a line. They are shown escaped instead
(``\\x1b``, ``\\x00``, ``\\u202e``). ``say`` logs a message to stderr through the ``analysis``
logger of :mod:`logging` (the one helper for progress and error messages: no module prints to
stderr itself), ``tell`` prints output meant for stdout.

This module is light (no pandas): the CLI and the build engine use it on the fast path.
"""

from __future__ import annotations

import logging
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


LOGGER = logging.getLogger("analysis")


class _StderrHandler(logging.Handler):
    """Writes each record, control characters escaped, to the *current* ``sys.stderr`` (a stream
    redirected after import, e.g. by pytest, still receives it). A broken pipe is raised to the
    caller (the command line stops quietly on it), not swallowed by logging."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(printable(record.getMessage(), keep_newlines=True) + "\n")
        sys.stderr.flush()


def logger() -> logging.Logger:
    """The package's logger, with its stderr handler (installed once; not propagated to the root
    logger, so a library's logging configuration cannot duplicate or hide our messages)."""
    if not any(isinstance(h, _StderrHandler) for h in LOGGER.handlers):
        LOGGER.addHandler(_StderrHandler())
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False
    return LOGGER


def say(msg: str, level: int = logging.INFO) -> None:
    """A progress or error message on stderr (through ``logging``), control characters escaped."""
    logger().log(level, "%s", msg)


def tell(msg: str) -> None:
    """Output meant for stdout (listings), control characters escaped."""
    print(printable(msg, keep_newlines=True), flush=True)
