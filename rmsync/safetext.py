"""Text from elsewhere, made safe to show: one line, nothing that acts on a terminal or a file.

Owns: `visible` and `quoted`, which every module that shows a tenant's string (a role name,
an error's detail) uses, in every format. Must not: import anything from rmsync, or know a
format (render and output add their own quoting on top).
"""

from __future__ import annotations

import re

# What a tenant (or a hand-edited file) may put in a string that must never reach a terminal,
# a plan line or a YAML comment as it is: C0 and C1 controls (newline, CR, ESC, and CSI,
# U+009B), lone surrogates (unprintable), Unicode's line and paragraph separators (line breaks
# to YAML and some editors), the bidirectional controls that reorder what a reviewer sees
# (Trojan Source), the invisible format characters that make two names look alike (zero-width
# spaces and joiners, the soft hyphen, word joiners, the BOM, tag characters), and
# noncharacters. The backslash is escaped too, so that every escape is unambiguous.
_UNSEEN = re.compile(
    r"[\\\x00-\x1f\x7f-\x9f\xad\ud800-\udfff\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    r"\ufeff\ufff9-\ufffb\U000e0000-\U000e007f"
    r"\ufdd0-\ufdef\ufffe\uffff"
    + "".join(rf"\U{plane:04x}fffe\U{plane:04x}ffff" for plane in range(1, 17))
    + "]"
)
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    n = ord(char)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def visible(text: str) -> str:
    """`text` on one line, every character that could act on a terminal or a file shown as an
    escape instead (`\\n`, `\\x1b`, `\\u202e`; a backslash as `\\\\`): so a tenant's string can
    never start a line, rewrite the screen or hide what it says. Ordinary text is unchanged."""
    return _UNSEEN.sub(_escape, text)


def quoted(text: str) -> str:
    """`text` as a double-quoted string, as `visible` shows it, with its own quotes escaped."""
    return '"' + visible(text).replace('"', '\\"') + '"'
