"""The scenario file: one JSON object per line, format version 1 (``"version": 1``).

A scenario says who the customer is and what they want (``customer``), which shop data it
runs on (``shop``) and what success means (``success``). The whole file is validated before
anything runs, so a typo on line 40 never wastes 39 scenarios' worth of model calls; every
problem is reported with its line number, never with the line's content.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from storage.ids import Identifier

FORMAT_VERSION = 1
DEFAULT_IGNORED_TOOLS = ("search_knowledge_base", "recall")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(_Strict):
    """The customer: a simulated one follows ``instructions``; a scripted one says ``turns``."""

    id: Identifier = Field(description="The customer's id in the shop's CRM (the run's user).")
    instructions: Text | None = Field(
        default=None, description="What the simulated customer wants and how they behave."
    )
    known_facts: list[Text] = Field(
        default_factory=list, description="Facts the customer knows and may be asked for."
    )
    turns: list[Text] = Field(
        default_factory=list, description="Scripted messages, said one per turn, in order."
    )
    max_turns: int = Field(default=8, ge=1, le=50, description="Customer messages at most.")

    @model_validator(mode="after")
    def _one_kind(self) -> Customer:
        if bool(self.instructions) == bool(self.turns):
            raise ValueError("give exactly one of customer.instructions or customer.turns")
        return self


class Shop(_Strict):
    """The data the scenario applies to; paths are relative to the scenario file.

    ``demo: true`` is the demo shop shipped with the package (``graphs/demo_data``)."""

    demo: bool = False
    knowledge_base: list[str] = Field(default_factory=list)
    customers: str | None = None
    orders: str | None = None

    @model_validator(mode="after")
    def _some_data(self) -> Shop:
        if self.demo and (self.knowledge_base or self.customers or self.orders):
            raise ValueError("shop: give demo or files, not both")
        if not self.demo and not (self.knowledge_base or self.customers or self.orders):
            raise ValueError("shop: give demo: true or at least one data file")
        return self


class ToolCall(_Strict):
    """A call the agent should make: its arguments must include these (others are free)."""

    name: Text
    arguments: dict[str, Any] = Field(default_factory=dict)


class FinalState(_Strict):
    """What the shop's records should say when the conversation ends."""

    tickets: int | None = Field(default=None, ge=0, description="Tickets of the customer.")
    ticket_reason: str | None = Field(default=None, description="Reason of their ticket.")


class Success(_Strict):
    """What a solved task looks like; every part given must hold for the trial to pass."""

    tool_calls: list[ToolCall] = Field(default_factory=list)
    ordered: bool = Field(default=False, description="The expected calls must come in order.")
    ignore_tools: list[str] = Field(
        default_factory=lambda: list(DEFAULT_IGNORED_TOOLS),
        description="Tools whose calls are neither required nor held against precision.",
    )
    must_state: list[list[Text]] = Field(
        default_factory=list,
        description="Facts the agent's replies must state: each is a list of alternatives, "
        "matched case-insensitively as substrings (a plain string is one alternative).",
    )
    handoff: bool = Field(default=False, description="Whether a person should take over.")
    final_state: FinalState | None = None

    @model_validator(mode="before")
    @classmethod
    def _facts_as_lists(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("must_state"), list):
            data = {
                **data,
                "must_state": [[f] if isinstance(f, str) else f for f in data["must_state"]],
            }
        return data


class Scenario(_Strict):
    version: Literal[1] = Field(description="Scenario format version.")
    id: Identifier
    title: Text | None = None
    tags: list[str] = Field(default_factory=list)
    customer: Customer
    shop: Shop
    success: Success


class ScenarioFileError(ValueError):
    """The file cannot be used; ``problems`` are ``path:line: reason`` (no content)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("scenario file refused:\n  " + "\n  ".join(problems[:20]))


class ScenarioSet(BaseModel):
    path: Path
    sha256: str
    scenarios: list[Scenario]


def load_scenarios(path: Path) -> ScenarioSet:
    """Parse and validate every line; ``ScenarioFileError`` lists all problems at once."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioFileError([f"{path}: cannot read ({type(exc).__name__})"]) from None
    problems: list[str] = []
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            problems.append(f"{path}:{number}: not valid JSON")
            continue
        if isinstance(data, dict) and data.get("version") not in (None, FORMAT_VERSION):
            problems.append(f"{path}:{number}: unsupported version (this tool reads 1)")
            continue
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as exc:
            fields = sorted({_where(e) for e in exc.errors()})
            problems.append(f"{path}:{number}: invalid {', '.join(fields)}")
            continue
        if scenario.id in seen:
            problems.append(f"{path}:{number}: duplicate id")
        seen.add(scenario.id)
        scenarios.append(scenario)
    if not scenarios and not problems:
        problems.append(f"{path}: no scenarios")
    if problems:
        raise ScenarioFileError(problems)
    return ScenarioSet(path=path, sha256=hashlib.sha256(raw).hexdigest(), scenarios=scenarios)


def _where(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "(scenario)"
    message = error["msg"] if error["type"] == "value_error" else error["type"]
    return f"{where} ({message})"
