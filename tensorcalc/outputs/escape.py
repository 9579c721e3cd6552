"""User text (file names, titles, claims, messages) made safe for where it is shown.

One function per target: a terminal or CI log (``terminal``), a GitHub Actions workflow
command (``github_data``, ``github_property``), XML 1.0 (``xml``), and whole JSON and XML
documents that may be printed to a CI log (``json_document``, ``xml_document``). Text a
user wrote is never allowed to start a line of its own, carry terminal escape sequences,
or break the syntax around it. Python source has its own rules in ``emit.py``.
"""
from __future__ import annotations

import re
import unicodedata

# Line breaks, terminal control sequences, invisible format characters (bidi overrides)
# and lone surrogates (undecodable bytes in a file name, which no encoder accepts).
_HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# Not allowed anywhere in an XML 1.0 document (XML 1.0, section 2.2 "Characters").
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A GitHub runner reads `::command` at the start of a line (after spaces) and the older
# `##[command]` anywhere in a line.
_COMMAND_START = re.compile(r"^(\s*):(?=:)")
_LEGACY_COMMAND = "##["


def _shown(char: str) -> str:
    """A character as a Python escape, as ``repr`` writes it (``\\n``, ``\\x1b``, ``\\u202e``)."""
    return repr(char)[1:-1]


def _show_hidden(text: str, keep: str = "") -> str:
    return "".join(_shown(c) if unicodedata.category(c) in _HIDDEN and c not in keep else c for c in str(text))


def terminal(text: str) -> str:
    """For a terminal or CI log: one line, hidden and control characters written as escapes,
    and nothing a CI runner would read as a command."""
    shown = _show_hidden(text)
    return _COMMAND_START.sub(r"\1\\x3a", shown).replace(_LEGACY_COMMAND, "##\\x5b")


def github_data(text: str) -> str:
    """The message of a workflow command (after ``::``), escaped as GitHub's toolkit does;
    line breaks stay (as ``%0A``), other control characters are written as escapes."""
    return _show_hidden(text, keep="\r\n").replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A property value of a workflow command (``file=…,title=…``)."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def xml(text: str) -> str:
    """Text for an XML 1.0 element or attribute (before the serializer escapes ``<&"``):
    characters XML 1.0 forbids, and hidden ones but tab and line breaks, written as escapes."""
    return _NOT_XML.sub(lambda m: _shown(m.group()), _show_hidden(text, keep="\t\n\r"))


def json_document(document: str) -> str:
    """A JSON document for a CI log: ``##[`` (only ever inside a string) written ``##\\u005b``,
    which a JSON reader reads as the same string."""
    return document.replace(_LEGACY_COMMAND, "##\\u005b")


def xml_document(document: str) -> str:
    """An XML document for a CI log: ``##[`` (only ever in text or attributes) written
    ``##&#91;``, which an XML reader reads as the same text."""
    return document.replace(_LEGACY_COMMAND, "##&#91;")
