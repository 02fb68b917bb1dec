"""Decoding input files: one clear error for binary or non-UTF-8 content."""

from __future__ import annotations

from vulnsweep.errors import InputError


def read_text(path: str, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise InputError(path, "is a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(path, f"is not valid UTF-8 (byte offset {exc.start})", line) from None
    return text[1:] if text.startswith("\ufeff") else text
