"""Read one knowledge-base file into documents (Markdown, text, HTML, JSONL).

A loader either returns every document of the file or raises ``LoadError`` with a reason
an operator can act on (line number, missing field); ingest then skips the whole file, so
a file is never half-loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
}


class LoadError(ValueError):
    """The file cannot be ingested; the message says why (no file content in it)."""


@dataclass(frozen=True)
class SourceDocument:
    source: str
    title: str
    text: str
    format: str


def _read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise LoadError("contains NUL bytes (binary file?)")
    return text


def _markdown(path: Path, source: str, text: str) -> list[SourceDocument]:
    title = next(
        (line.lstrip("#").strip() for line in text.splitlines() if line.startswith("# ")),
        path.stem.replace("-", " ").replace("_", " "),
    )
    return [SourceDocument(source, title, text, "markdown")]


def _plain(path: Path, source: str, text: str) -> list[SourceDocument]:
    first = next((line.strip() for line in text.splitlines() if line.strip()), path.stem)
    return [SourceDocument(source, first[:200], text, "text")]


class _HTMLText(HTMLParser):
    """Visible text of a page, one block per line; title from <title> or the first <h1>."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.h1 = ""
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "meta", "link", "input", "hr"):
            if tag == "br":
                self.parts.append("\n")
            return
        self._stack.append(tag)
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                continue
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if "title" in self._stack:
            self.title += data
            return
        if any(tag in self.SKIP for tag in self._stack):
            return
        if "h1" in self._stack:
            self.h1 += data
        self.parts.append(data)


def _html(path: Path, source: str, text: str) -> list[SourceDocument]:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    body = "\n".join(line for line in lines if line)
    title = " ".join((parser.title or parser.h1).split()) or path.stem
    return [SourceDocument(source, title, body, "html")]


def _record(item: Any, line: int) -> SourceDocument:
    if not isinstance(item, dict):
        raise LoadError(f"line {line}: expected a JSON object")
    if "doc_id" in item and "answer" in item:
        question = str(item.get("question") or "").strip()
        answer = str(item["answer"] or "").strip()
        text = f"{question}\n\n{answer}" if question else answer
        return SourceDocument(str(item["doc_id"]), question, text, "jsonl")
    identifier = item.get("id") or item.get("doc_id")
    text = item.get("text") or item.get("content")
    missing = [name for name, value in (("id", identifier), ("text", text)) if not value]
    if missing:
        raise LoadError(
            f"line {line}: missing {', '.join(missing)} "
            "(expected {id, title, text}, {doc_id, title, content} or {doc_id, question, answer})"
        )
    return SourceDocument(str(identifier), str(item.get("title") or ""), str(text), "jsonl")


def _jsonl(_path: Path, _source: str, text: str) -> list[SourceDocument]:
    documents: list[SourceDocument] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LoadError(f"line {number}: invalid JSON ({exc.msg})") from None
        document = _record(item, number)
        if document.source in seen:
            raise LoadError(f"line {number}: duplicate id {document.source[:64]!r}")
        seen.add(document.source)
        documents.append(document)
    return documents


_LOADERS: dict[str, Callable[[Path, str, str], list[SourceDocument]]] = {
    "markdown": _markdown,
    "text": _plain,
    "html": _html,
    "jsonl": _jsonl,
}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in FORMATS


def load_file(path: Path, *, source: str, max_bytes: int) -> list[SourceDocument]:
    """Every document in ``path``; raises ``LoadError`` for a file that must be skipped.

    ``source`` names a single-document file in results (ingest passes its path relative to
    the folder ingested); JSONL records keep their own ids.
    """
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise LoadError(f"unsupported file type {path.suffix or '(none)'!r}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"larger than the {max_bytes // 1_000_000} MB limit")
        text = _read_text(path)
    except OSError as exc:
        raise LoadError(f"cannot read ({exc.strerror or type(exc).__name__})") from None
    documents = [doc for doc in _LOADERS[kind](path, source, text) if doc.text.strip()]
    if not documents:
        raise LoadError("no text to ingest")
    return documents
