"""Stable content-hash ids for everything the creative workflow touches.

An id is a short prefix naming the kind of thing plus the first 12 hex digits of
the SHA-256 of its content: the same PNG bytes, the same headline or the same
fitted model give the same id on every machine and in every run, and a changed
pixel or word gives a new one. Scores, guardrail results and allocations carry
the ids they came from, so a number on a dashboard traces back to its inputs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["ID_PREFIXES", "content_id", "file_id", "json_id", "text_id"]

#: Prefix per kind of thing: master asset, generated variant, copy text, template, model.
ID_PREFIXES: dict[str, str] = {
    "master": "mst",
    "variant": "var",
    "creative": "cre",
    "copy": "txt",
    "template": "tpl",
    "model": "mdl",
}
_DIGITS = 12


def content_id(kind: str, data: bytes) -> str:
    """Id of ``data`` for a thing of ``kind`` (a key of :data:`ID_PREFIXES`).

    Examples
    --------
    >>> content_id("copy", b"Meet the new Nova Kettle")
    'txt-97ebc4b42ca3'
    """
    if kind not in ID_PREFIXES:
        raise ValueError(f"unknown id kind {kind!r}: use one of {', '.join(ID_PREFIXES)}")
    return f"{ID_PREFIXES[kind]}-{hashlib.sha256(data).hexdigest()[:_DIGITS]}"


def file_id(kind: str, path: Path) -> str:
    """Id of a file's bytes (an image: its pixels and encoding, not its name)."""
    return content_id(kind, Path(path).read_bytes())


def text_id(text: str, kind: str = "copy") -> str:
    """Id of a piece of copy (UTF-8, surrounding whitespace ignored)."""
    return content_id(kind, text.strip().encode("utf-8"))


def json_id(kind: str, value: Any) -> str:
    """Id of a JSON-serialisable value (keys sorted), e.g. a model's settings and training data ids."""
    return content_id(kind, json.dumps(value, sort_keys=True, default=str).encode("utf-8"))
