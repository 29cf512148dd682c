"""Operator sub-command ``ingest PATH...``: files and folders into the knowledge base.

Shows a progress bar per file and ends with the summary table; the exit status is 1 when a
file failed or cached answers could not be invalidated, so scripts notice.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.settings import Settings
from tools.knowledge_base import FileOutcome, IngestSummary

Command = Callable[[Settings, argparse.Namespace], int]


class _RichProgress:
    """Adapts ``rich.progress.Progress`` to the ingestor's ``IngestProgress`` protocol."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("ingesting", total=None)

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, outcome: FileOutcome) -> None:
        self.progress.update(
            self.task, advance=1, description=f"{outcome.status:<9} {Path(outcome.path).name}"
        )


def summary_table(summary: IngestSummary) -> Table:
    table = Table(title="knowledge base ingest")
    table.add_column("result")
    table.add_column("files", justify="right")
    for status, count in summary.counts.items():
        table.add_row(status, str(count))
    table.add_section()
    table.add_row("chunks added", str(summary.chunks_added))
    table.add_row("chunks removed", str(summary.chunks_removed))
    return table


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    from storage.embeddings import build_embeddings
    from storage.redis import RedisHandle
    from tools.knowledge_base import open_knowledge_base

    console = Console(stderr=True)
    redis = RedisHandle.from_config(settings.redis)
    stack = open_knowledge_base(
        settings.chroma,
        settings.knowledge_base,
        build_embeddings(settings.embeddings),
        redis=redis,
    )
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            summary = stack.ingestor.ingest(args.paths, progress=_RichProgress(progress))
    finally:
        stack.close()
        if redis is not None:
            redis.close()
    Console().print(summary_table(summary))
    for outcome in summary.files:
        if outcome.status == "failed":
            console.print(
                f"[red]failed[/red] {outcome.path}: {outcome.reason}",
                highlight=False,
                soft_wrap=True,
            )
    if summary.cache_error:
        console.print(
            f"[yellow]warning[/yellow] {summary.cache_error}", highlight=False, soft_wrap=True
        )
    return 0 if summary.ok else 1


def register(sub: argparse._SubParsersAction, commands: dict[str, Command]) -> None:
    """Add the sub-command to the ``support-agent`` parser."""
    parser = sub.add_parser(
        "ingest",
        help="add or update knowledge-base files (Markdown, text, HTML, JSONL) and folders",
    )
    parser.add_argument(
        "paths", type=Path, nargs="+", metavar="PATH", help="files or folders to ingest"
    )
    commands["ingest"] = _ingest
