"""Constraints on the free text that clients send and the gateway stores (names, ids, labels, comments).

PostgreSQL refuses NUL in text, and a name is shown on one line in the console and the admin API: checked at the
edge, a bad value is the client's 400, not a database error (a 500) after the request was taken.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

# One line of printable text: no control characters (NUL, tabs, newlines, escapes, DEL). The end is "nothing
# follows" rather than `$`, which in Python also matches before a final line feed ("name\n" passed).
ONE_LINE = r"^[^\x00-\x1f\x7f]*(?![\s\S])"
# Any text but NUL (comments keep their newlines and tabs).
NO_NUL = r"^[^\x00]*(?![\s\S])"

NAME_LENGTH = 200  # the keys table's name and scope columns (router/keys/schema.py)
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_LENGTH, pattern=ONE_LINE)]


def name_problem(value: str) -> str | None:
    """What makes `value` no Name, in words for a form (the admin API's schema says the same by its constraints)."""
    if not value:
        return "is required"
    if len(value) > NAME_LENGTH:
        return f"is at most {NAME_LENGTH} characters"
    if re.search(ONE_LINE, value) is None:
        return "is one line of printable text"
    return None


def plain_id(value: str, length: int) -> bool:
    """Whether `value` could be an id the gateway stores: at most `length` characters, no control characters.
    Anything else is "no such id" without asking the database (PostgreSQL answers a NUL with an error)."""
    return len(value) <= length and value.isprintable()
