"""Ingest: every format, idempotent re-runs, replacement, removal, bad files, atomicity."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from tools.knowledge_base.ingest import FileOutcome

from .conftest import KB

LONG_REFUNDS = "\n\n".join(
    f"Refund rule {i}: items bought in store {i} can be returned within {i + 10} days "
    "with the receipt, and the money goes back to the original card."
    for i in range(12)
)


def write_docs(root: Path) -> Path:
    docs = root / "docs"
    (docs / "billing").mkdir(parents=True)
    (docs / "billing" / "refunds.md").write_text(f"# Refunds\n\n{LONG_REFUNDS}\n")
    (docs / "shipping.txt").write_text("Shipping\nOrders ship within two business days.\n")
    (docs / "reset.html").write_text(
        "<html><head><title>Reset your password</title><style>p{}</style>"
        "<script>var secret = 1;</script></head>"
        "<body><h1>Password</h1><p>Click <b>Forgot password</b> on the sign-in page.</p>"
        "</body></html>"
    )
    (docs / "faq.jsonl").write_text(
        json.dumps({"doc_id": "sf1", "question": "Delete account?", "answer": "Go to settings."})
        + "\n"
        + json.dumps({"id": "g1", "title": "Gift cards", "text": "Gift cards never expire."})
        + "\n"
    )
    (docs / ".hidden.md").write_text("# Hidden\n\nnot for the knowledge base")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n")
    return docs


def chunk_ids(kb: KB) -> dict[str, dict]:
    return {key: dict(meta) for key, meta in kb.store.ids_where().items()}


def by_status(outcomes: list[FileOutcome]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for outcome in outcomes:
        found.setdefault(outcome.status, []).append(Path(outcome.path).name)
    return {status: sorted(names) for status, names in found.items()}


def test_ingest_every_format_and_read_it_back(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    kb = make_kb(fake_embeddings)
    summary = kb.ingestor.ingest([write_docs(tmp_path)])

    assert by_status(summary.files) == {
        "added": ["faq.jsonl", "refunds.md", "reset.html", "shipping.txt"]
    }
    assert summary.ok
    metas = list(chunk_ids(kb).values())
    assert summary.chunks_added == len(metas) == kb.store.count()
    sources = {m["source"]: m for m in metas}
    assert set(sources) == {"billing/refunds.md", "shipping.txt", "reset.html", "sf1", "g1"}
    assert sources["billing/refunds.md"]["title"] == "Refunds"
    assert sources["reset.html"]["title"] == "Reset your password"
    assert sources["sf1"]["title"] == "Delete account?"
    refunds = [m for m in metas if m["source"] == "billing/refunds.md"]
    assert len(refunds) > 1, "the long Markdown file must be split into several chunks"
    texts = " ".join(kb.store.collection.get(include=["documents"])["documents"])
    assert "Forgot password" in texts
    assert "secret" not in texts, "script content must not be ingested"


def test_reingesting_the_same_folder_changes_nothing(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    kb = make_kb(fake_embeddings)
    docs = write_docs(tmp_path)
    kb.ingestor.ingest([docs])
    before = chunk_ids(kb)

    for _ in range(2):
        summary = kb.ingestor.ingest([docs])
        assert summary.counts == {
            "added": 0,
            "unchanged": 4,
            "replaced": 0,
            "removed": 0,
            "failed": 0,
        }
        assert (summary.chunks_added, summary.chunks_removed) == (0, 0)
        assert chunk_ids(kb) == before


def test_a_changed_file_replaces_its_chunks_and_a_removed_file_is_removed(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    kb = make_kb(fake_embeddings)
    docs = write_docs(tmp_path)
    kb.ingestor.ingest([docs])
    old_refund_ids = {k for k, m in chunk_ids(kb).items() if m["source"] == "billing/refunds.md"}

    (docs / "billing" / "refunds.md").write_text("# Refunds\n\nNo refunds after 30 days.\n")
    (docs / "shipping.txt").unlink()
    summary = kb.ingestor.ingest([docs])

    assert by_status(summary.files) == {
        "replaced": ["refunds.md"],
        "removed": ["shipping.txt"],
        "unchanged": ["faq.jsonl", "reset.html"],
    }
    after = chunk_ids(kb)
    refunds = {k for k, m in after.items() if m["source"] == "billing/refunds.md"}
    assert len(refunds) == 1
    assert not refunds & old_refund_ids
    assert not [m for m in after.values() if m["source"] == "shipping.txt"]
    assert summary.chunks_removed == len(old_refund_ids) + 1
    documents = kb.store.collection.get(ids=list(refunds), include=["documents"])["documents"]
    assert documents == ["# Refunds\n\nNo refunds after 30 days."]


def test_bad_files_are_reported_skipped_and_keep_their_previous_version(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    kb = make_kb(fake_embeddings)
    docs = write_docs(tmp_path)
    kb.ingestor.ingest([docs])
    faq_before = {k for k, m in chunk_ids(kb).items() if m["format"] == "jsonl"}

    (docs / "faq.jsonl").write_text('{"id": "g1", "text": "ok"}\n{not json}\n')
    (docs / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (docs / "empty.md").write_text("   \n")
    (docs / "nameless.jsonl").write_text('{"title": "no id or text"}\n')
    (docs / "twice.jsonl").write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    summary = kb.ingestor.ingest([docs, tmp_path / "missing-folder"])

    reasons = {Path(o.path).name: o.reason for o in summary.files if o.status == "failed"}
    assert reasons == {
        "faq.jsonl": "line 2: invalid JSON (Expecting property name enclosed in double quotes)",
        "latin1.txt": "not UTF-8 text (byte 3)",
        "empty.md": "no text to ingest",
        "nameless.jsonl": "line 1: missing id, text (expected {id, title, text}, "
        "{doc_id, title, content} or {doc_id, question, answer})",
        "twice.jsonl": "line 2: duplicate id 'a'",
        "missing-folder": "no such file or folder",
    }
    assert not summary.ok
    assert {k for k, m in chunk_ids(kb).items() if m["format"] == "jsonl"} == faq_before


def test_an_explicit_unsupported_file_is_reported(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    kb = make_kb(fake_embeddings)
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(b"%PDF-1.7")
    summary = kb.ingestor.ingest([pdf])
    assert summary.files == [FileOutcome(str(pdf), "failed", reason="unsupported file type '.pdf'")]
    assert kb.store.count() == 0


class FailingEmbeddings(Embeddings):
    """Embeds like the wrapped model, then fails: a model crash in the middle of an ingest."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise RuntimeError("model crashed")

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def test_a_failed_write_leaves_the_previous_version_whole(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    kb = make_kb(fake_embeddings)
    docs = write_docs(tmp_path)
    kb.ingestor.ingest([docs])
    before = chunk_ids(kb)

    (docs / "billing" / "refunds.md").write_text(f"# Refunds\n\nChanged.\n\n{LONG_REFUNDS}")
    kb.ingestor.embeddings = FailingEmbeddings(fake_embeddings)
    summary = kb.ingestor.ingest([docs])
    assert [o.reason for o in summary.files if o.status == "failed"] == [
        "write failed (RuntimeError)"
    ]
    assert chunk_ids(kb) == before

    kb.ingestor.embeddings = fake_embeddings
    original_delete = kb.store.delete
    calls = {"n": 0}

    def delete_fails_once(ids: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("store went away")
        original_delete(ids)  # type: ignore[arg-type]

    kb.store.delete = delete_fails_once  # type: ignore[method-assign]
    summary = kb.ingestor.ingest([docs])
    assert [o.reason for o in summary.files if o.status == "failed"] == [
        "write failed (ConnectionError)"
    ]
    assert chunk_ids(kb) == before, "the new chunks are rolled back when the old cannot go"


@pytest.mark.parametrize("shape", ["stackfaq", "generic"])
def test_jsonl_shapes(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings, shape: str
) -> None:
    kb = make_kb(fake_embeddings)
    path = tmp_path / "kb.jsonl"
    record = (
        {"doc_id": "sf9", "question": "How to export?", "answer": "Use File > Export.", "n": 1}
        if shape == "stackfaq"
        else {"id": "sf9", "title": "How to export?", "text": "Use File > Export."}
    )
    path.write_text(json.dumps(record) + "\n\n")
    kb.ingestor.ingest([path])
    [result] = kb.knowledge_base.search("export", k=1)
    assert (result.source, result.title) == ("sf9", "How to export?")
    assert "Use File > Export." in result.chunk


class FailsOnSecondBatch(Embeddings):
    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls == 2:
            raise TimeoutError("model stalled")
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def test_a_large_file_failing_half_way_leaves_nothing_of_its_new_version(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    kb = make_kb(fake_embeddings)
    path = tmp_path / "big.jsonl"

    def write(version: int) -> None:
        path.write_text(
            "\n".join(
                json.dumps({"id": f"d{i}", "title": f"T{i}", "text": f"v{version} answer {i}"})
                for i in range(300)
            )
        )

    write(1)
    assert kb.ingestor.ingest([path]).chunks_added == 300
    before = chunk_ids(kb)
    write(2)
    kb.ingestor.embeddings = FailsOnSecondBatch(fake_embeddings)
    summary = kb.ingestor.ingest([path])
    assert [o.reason for o in summary.files] == ["write failed (TimeoutError)"]
    assert kb.ingestor.embeddings.calls == 2
    assert chunk_ids(kb) == before
