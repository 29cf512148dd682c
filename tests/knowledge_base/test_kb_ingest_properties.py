"""Any file content: ingest reports every file, never raises, and a re-run changes nothing."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import DeterministicFakeEmbedding

from .conftest import KB, build_kb

SUFFIXES = [".md", ".txt", ".html", ".jsonl"]
contents = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=1500).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.text(max_size=6) | st.integers(),
                "doc_id": st.text(max_size=6),
                "title": st.text(max_size=20) | st.none(),
                "text": st.text(max_size=200) | st.integers(),
                "question": st.text(max_size=30),
                "answer": st.text(max_size=200) | st.none(),
            },
        ),
        max_size=4,
    ).map(lambda rows: "\n".join(json.dumps(r) for r in rows).encode()),
)
files = st.lists(st.tuples(st.sampled_from(SUFFIXES), contents), min_size=1, max_size=5)


@pytest.fixture(scope="module")
def shared_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KB]:
    kb = build_kb(tmp_path_factory.mktemp("kb-props"), DeterministicFakeEmbedding(size=384))
    yield kb
    kb.store.close()


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("docs-props")
    return (root / f"case{i}" for i in itertools.count())


@settings(max_examples=40, deadline=None)
@given(files=files)
def test_every_file_gets_an_outcome_and_reingest_is_a_no_op(
    shared_kb: KB, folders: Iterator[Path], files: list[tuple[str, bytes]]
) -> None:
    folder = next(folders)
    folder.mkdir()
    for index, (suffix, content) in enumerate(files):
        (folder / f"f{index}{suffix}").write_bytes(content)

    first = shared_kb.ingestor.ingest([folder])
    event(" ".join(sorted(o.status for o in first.files)))
    assert len(first.files) == len(files)
    for outcome in first.files:
        assert outcome.status in ("added", "failed")
        assert (outcome.reason is not None) == (outcome.status == "failed")
    before = shared_kb.store.ids_where({"file": {"$in": [o.path for o in first.files]}})

    second = shared_kb.ingestor.ingest([folder])
    assert [(o.path, o.status == "failed") for o in second.files] == [
        (o.path, o.status == "failed") for o in first.files
    ]
    assert {o.status for o in second.files} <= {"unchanged", "failed"}
    assert shared_kb.store.ids_where({"file": {"$in": [o.path for o in first.files]}}) == before
