"""Untrusted text made safe to show a person: control characters as visible escapes, lengths
bounded, URL secrets redacted.

Names of folders and runs, values read from records, URLs from the environment: any of them can
hold ESC sequences (which a terminal would obey), a newline (which forges a second `error:`
line), or a signed URL's token. Every human output (batch lines, the TUI, reports) shows such
text through `visible`; machine outputs (JSON) keep the true value, except secrets, which
`redact_url` removes from every output and record.
"""

from __future__ import annotations

import re
import urllib.parse

# C0 controls, DEL and the C1 controls (U+0080–U+009F: a terminal may take U+009B as CSI), plus
# the Unicode line and paragraph separators and the bidirectional overrides that reorder text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

MAX_SHOWN = 200


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: object) -> str:
    """`text` (any value, made a str) with every control character shown as an escape
    (`\\x1b`, `\\n`): printed to a terminal it moves no cursor and forges no line."""
    return _CONTROL.sub(_escape, str(text))


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """At most `limit` characters: longer text keeps its start and says how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def shown(text: object, limit: int = MAX_SHOWN) -> str:
    """`visible`, then `shorten`: how a value from a user or a file appears in a message."""
    return shorten(visible(text), limit)


def _redact_token(text: str) -> str:
    """A URL that `urlsplit` cannot take apart (`http://u:p@[bad/…`) or without a scheme
    (`host/m/?sig=…`, a typo): credentials and everything from `?` or `#` cut all the same.
    Text with spaces is a sentence, not a URL: unchanged."""
    if any(ch.isspace() for ch in text):
        return text
    text = re.sub(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?[^/?#@]*@", r"\1***@", text)
    for mark in "?#":
        if mark in text:
            text = text.split(mark, 1)[0] + mark + "***"
    return text


def redact_url(url: str) -> str:
    """`url` without its credentials (`user:password@`), query string or fragment: what a
    signed mirror URL may print and record. Text that is not a URL comes back unchanged
    (a single word that looks like one is redacted the same way: `_redact_token`)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return _redact_token(url)
    if not parts.scheme or not parts.netloc:
        return _redact_token(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "***" if parts.query else ""
    fragment = "***" if parts.fragment else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
