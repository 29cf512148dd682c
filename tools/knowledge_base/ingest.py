"""Ingest files into the knowledge base: idempotent, per-file atomic, with a summary.

Chunk ids are derived from the file, the chunk's position and its text, so:
- re-ingesting an unchanged file computes the same ids, finds them all present and writes
  nothing (nor embeds anything);
- a changed file gets its new chunks added *first* and only then its stale chunks deleted;
  if adding fails, what was added is removed again and the old version stays whole, so a
  file is never left with half its chunks (a crash between the two steps leaves both whole
  versions, and the next run finishes the replacement);
- re-ingesting a folder removes the chunks of files that are no longer in it.
A file that cannot be read or parsed is reported with the reason and skipped, its previous
chunks untouched. When anything changed, the search cache version is bumped so no answer
computed before the ingest is served after it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from langchain_core.embeddings import Embeddings
from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

from storage.cache import CacheInvalidationError, VersionedCache
from storage.vectorstore import VectorStore
from tools.config import KnowledgeBaseConfig
from tools.knowledge_base.loaders import LoadError, SourceDocument, is_supported, load_file

logger = logging.getLogger(__name__)

Status = Literal["added", "unchanged", "replaced", "removed", "failed"]
STATUSES: tuple[Status, ...] = ("added", "unchanged", "replaced", "removed", "failed")
WRITE_BATCH = 256


@dataclass(frozen=True)
class FileOutcome:
    path: str
    status: Status
    chunks: int = 0
    reason: str | None = None
    added: int = 0
    removed: int = 0


@dataclass
class IngestSummary:
    files: list[FileOutcome] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    cache_error: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(outcome.status for outcome in self.files)
        return {status: found.get(status, 0) for status in STATUSES}

    @property
    def ok(self) -> bool:
        return self.counts["failed"] == 0 and self.cache_error is None


class IngestProgress(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, outcome: FileOutcome) -> None: ...


@dataclass(frozen=True)
class _PlannedFile:
    path: Path
    source: str


@dataclass(frozen=True)
class _Chunk:
    id: str
    text: str
    metadata: Mapping[str, Any]


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _plan(paths: Sequence[Path]) -> tuple[list[_PlannedFile], list[Path], list[FileOutcome]]:
    """Files to ingest, folders whose vanished files to remove, and paths that do not exist."""
    files: dict[Path, _PlannedFile] = {}
    folders: list[Path] = []
    missing: list[FileOutcome] = []
    for given in paths:
        path = given.expanduser().resolve()
        if path.is_dir():
            folders.append(path)
            for found in sorted(path.rglob("*")):
                if found.is_file() and is_supported(found) and not _hidden(found, path):
                    files.setdefault(found, _PlannedFile(found, found.relative_to(path).as_posix()))
        elif path.is_file():
            files.setdefault(path, _PlannedFile(path, path.name))
        else:
            missing.append(FileOutcome(str(given), "failed", reason="no such file or folder"))
    return list(files.values()), folders, missing


class Ingestor:
    """Loads, chunks, embeds and writes files into one vector store."""

    def __init__(
        self,
        store: VectorStore,
        embeddings: Embeddings,
        config: KnowledgeBaseConfig,
        *,
        cache: VersionedCache | None = None,
    ) -> None:
        self.store = store
        self.embeddings = embeddings
        self.config = config
        self.cache = cache
        markdown = RecursiveCharacterTextSplitter.from_language(
            Language.MARKDOWN, chunk_size=config.chunk_size, chunk_overlap=config.chunk_overlap
        )
        # JSONL records are usually Markdown too (exported help-centre articles): cutting
        # them at headings first raised tau2 banking document Recall@5 from 0.384 to 0.401;
        # on plain text the Markdown splitter falls back to paragraphs, lines and words.
        self._splitters = {
            "markdown": markdown,
            "jsonl": markdown,
            "default": RecursiveCharacterTextSplitter(
                chunk_size=config.chunk_size, chunk_overlap=config.chunk_overlap
            ),
        }

    def chunks(self, planned: _PlannedFile, documents: Sequence[SourceDocument]) -> list[_Chunk]:
        """Chunks of a file with content-derived ids; each starts with the document's title
        (unless its text already does), so a chunk cut from the middle of a policy still
        says what it is about, to the embedding and to BM25."""
        file_key = planned.path.as_posix()
        result: list[_Chunk] = []
        for document in documents:
            splitter = self._splitters.get(document.format, self._splitters["default"])
            for index, piece in enumerate(splitter.split_text(document.text)):
                text = (
                    f"{document.title}\n\n{piece}"
                    if document.title and not piece.lstrip("# ").startswith(document.title)
                    else piece
                )
                digest = hashlib.sha256(
                    "\x1f".join((file_key, document.source, str(index), text)).encode()
                ).hexdigest()[:40]
                result.append(
                    _Chunk(
                        digest,
                        text,
                        {
                            "file": file_key,
                            "source": document.source,
                            "title": document.title,
                            "format": document.format,
                            "chunk_index": index,
                        },
                    )
                )
        return result

    def _write(self, chunks: Sequence[_Chunk], stale: set[str]) -> None:
        """Add ``chunks`` then delete ``stale``; on failure restore the previous version.

        Embedding and adding go in slices so a large file never holds all its vectors in
        memory; whatever was added is removed again if any later step fails.
        """
        added: list[str] = []
        try:
            for start in range(0, len(chunks), WRITE_BATCH):
                part = chunks[start : start + WRITE_BATCH]
                vectors = self.embeddings.embed_documents([c.text for c in part])
                self.store.add(
                    [c.id for c in part],
                    [c.text for c in part],
                    vectors,
                    [c.metadata for c in part],
                )
                added.extend(c.id for c in part)
            self.store.delete(stale)
        except Exception:
            if added:
                self.store.delete(added)
            raise

    def _ingest_file(self, planned: _PlannedFile, existing: set[str]) -> FileOutcome:
        shown = str(planned.path)
        try:
            documents = load_file(
                planned.path,
                source=planned.source,
                max_bytes=int(self.config.max_file_mb * 1_000_000),
            )
        except LoadError as exc:
            return FileOutcome(shown, "failed", reason=str(exc))
        chunks = self.chunks(planned, documents)
        wanted = {c.id for c in chunks}
        if len(wanted) != len(chunks):
            return FileOutcome(shown, "failed", reason="two chunks with the same id")
        if wanted == existing:
            return FileOutcome(shown, "unchanged", len(chunks))
        new = [c for c in chunks if c.id not in existing]
        stale = existing - wanted
        try:
            self._write(new, stale)
        except Exception as exc:
            logger.exception("ingest of a file failed; its previous version is kept")
            return FileOutcome(shown, "failed", reason=f"write failed ({type(exc).__name__})")
        status: Status = "replaced" if existing else "added"
        return FileOutcome(shown, status, len(chunks), added=len(new), removed=len(stale))

    def ingest(
        self, paths: Sequence[Path], progress: IngestProgress | None = None
    ) -> IngestSummary:
        """Bring the store in line with ``paths`` (files and folders)."""
        planned, folders, missing = _plan(paths)
        summary = IngestSummary(files=list(missing))
        self.store.refresh()
        by_file: dict[str, set[str]] = defaultdict(set)
        for chunk_id, meta in self.store.ids_where().items():
            by_file[str(meta.get("file", ""))].add(chunk_id)
        present = {p.path.as_posix() for p in planned}
        vanished = sorted(
            name
            for name in by_file
            if name not in present
            and any(name.startswith(folder.as_posix() + "/") for folder in folders)
        )
        if progress is not None:
            progress.start(len(planned) + len(vanished))
        try:
            for item in planned:
                existing = by_file.get(item.path.as_posix(), set())
                self._record(summary, self._ingest_file(item, existing), progress)
            for name in vanished:
                self._record(summary, self._remove(name, by_file[name]), progress)
        finally:
            if summary.chunks_added or summary.chunks_removed:
                self._invalidate(summary)
        return summary

    def _remove(self, name: str, ids: set[str]) -> FileOutcome:
        try:
            self.store.delete(ids)
        except Exception as exc:
            logger.exception("removing the chunks of a vanished file failed")
            return FileOutcome(name, "failed", reason=f"remove failed ({type(exc).__name__})")
        return FileOutcome(name, "removed", len(ids), removed=len(ids))

    @staticmethod
    def _record(
        summary: IngestSummary, outcome: FileOutcome, progress: IngestProgress | None
    ) -> None:
        summary.files.append(outcome)
        summary.chunks_added += outcome.added
        summary.chunks_removed += outcome.removed
        if progress is not None:
            progress.advance(outcome)

    def _invalidate(self, summary: IngestSummary) -> None:
        """Tell other processes and the cache that the data changed; report what failed."""
        problems = []
        try:
            self.store.mark_changed()
        except OSError as exc:
            problems.append(f"other processes were not told to reload ({type(exc).__name__})")
        if self.cache is not None:
            try:
                self.cache.bump()
            except CacheInvalidationError as exc:
                problems.append(str(exc))
        summary.cache_error = "; ".join(problems) or None

    async def aingest(
        self, paths: Sequence[Path], progress: IngestProgress | None = None
    ) -> IngestSummary:
        """``ingest`` in a worker thread: parsing and embedding are CPU-bound."""
        return await asyncio.to_thread(self.ingest, paths, progress)
