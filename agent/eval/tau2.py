"""tau2-bench retail tasks as scenarios on its CRM fixture (``../shared/fixtures/tau2_retail``).

tau2-bench's retail agent can change orders; this tool pack reads the CRM and hands
changes to a person. So a task is converted as follows: its read actions become expected
tool calls (``get_order_details`` → ``get_order``; the three user look-ups →
``lookup_customer``), a write action or ``transfer_to_human_agents`` means a hand-off is
expected, ``communicate_info`` becomes facts the answer must state, and the simulated
customer gets the task's instructions. Product look-ups and ``calculate`` have no
counterpart and are dropped. The customer is the one the task's actions name; a task whose
customer is not in the fixture is skipped. The fixture is read where it is, never copied.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.eval.scenario import FORMAT_VERSION, Scenario

READS = {
    "get_order_details": ("get_order", {"order_id": "order_id"}),
    "find_user_id_by_email": ("lookup_customer", {"email": "email"}),
    "find_user_id_by_name_zip": (
        "lookup_customer",
        {"first_name": "first_name", "last_name": "last_name", "zip": "zip"},
    ),
    "get_user_details": ("lookup_customer", {"user_id": "customer_id"}),
}
HANDOFF = "transfer_to_human_agents"
DROPPED = {"get_product_details", "list_all_product_types", "calculate"}


class Tau2Error(ValueError):
    """The tasks or the fixture could not be read."""


@dataclass
class Converted:
    scenarios: list[dict[str, Any]]
    skipped: int


@dataclass(frozen=True)
class Fixture:
    folder: Path
    users: dict[str, dict[str, Any]]
    order_owner: dict[str, str]

    @classmethod
    def read(cls, folder: Path) -> Fixture:
        try:
            users = [json.loads(line) for line in _lines(folder / "users.jsonl")]
            orders = [json.loads(line) for line in _lines(folder / "orders.jsonl")]
        except (OSError, ValueError) as exc:
            raise Tau2Error(
                f"cannot read the CRM fixture in {folder} ({type(exc).__name__})"
            ) from None
        return cls(
            folder.resolve(),
            {user["user_id"]: user for user in users},
            {order["order_id"]: order["user_id"] for order in orders},
        )

    def customer_of(self, actions: list[dict[str, Any]]) -> str | None:
        """The user the actions are about: named directly, by an order, or by a look-up."""
        for action in actions:
            args = action.get("arguments") or {}
            if args.get("user_id") in self.users:
                return str(args["user_id"])
            order = str(args.get("order_id", ""))
            if order in self.order_owner:
                return self.order_owner[order]
            for user_id, user in self.users.items():
                if args.get("email") and user.get("email") == args["email"]:
                    return user_id
                name = user.get("name") or {}
                if (
                    args.get("zip")
                    and (user.get("address") or {}).get("zip") == args["zip"]
                    and name.get("first_name") == args.get("first_name")
                    and name.get("last_name") == args.get("last_name")
                ):
                    return user_id
        return None


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _scenario_id(task_id: Any) -> str:
    return "tau2-retail-" + re.sub(r"[^A-Za-z0-9_.:@%+=-]", "_", str(task_id))[:48]


def convert_task(task: dict[str, Any], fixture: Fixture) -> dict[str, Any] | None:
    """One tau2 task as a scenario (a JSON-ready dict), or None when its customer is unknown."""
    instructions = (task.get("user_scenario") or {}).get("instructions") or {}
    if isinstance(instructions, str):
        instructions = {"task_instructions": instructions}
    criteria = task.get("evaluation_criteria") or {}
    actions = list(criteria.get("actions") or [])
    customer = fixture.customer_of(actions)
    if customer is None:
        return None
    calls: list[dict[str, Any]] = []
    handoff = False
    for action in actions:
        name, args = action.get("name", ""), action.get("arguments") or {}
        if name in READS:
            tool, mapping = READS[name]
            call = {
                "name": tool,
                "arguments": {
                    ours: args[theirs] for theirs, ours in mapping.items() if theirs in args
                },
            }
            if call not in calls:
                calls.append(call)
        elif name not in DROPPED:
            handoff = True  # a change only staff can make here, or an explicit transfer
    story = [
        instructions.get("reason_for_call"),
        instructions.get("task_instructions"),
        f"You do not know: {instructions['unknown_info']}"
        if instructions.get("unknown_info")
        else None,
    ]
    known = [line.strip() for line in str(instructions.get("known_info") or "").splitlines()]
    facts = [str(info) for info in criteria.get("communicate_info") or [] if str(info).strip()]
    scenario = {
        "version": FORMAT_VERSION,
        "id": _scenario_id(task.get("id")),
        "title": ((task.get("description") or {}).get("purpose") or None),
        "tags": ["tau2", "retail", "handoff" if handoff else "self-service"],
        "customer": {
            "id": customer,
            "instructions": "\n".join(part for part in story if part) or "Ask about your order.",
            "known_facts": [line for line in known if line],
        },
        "shop": {
            "knowledge_base": [str(fixture.folder / "policy.md")],
            "customers": str(fixture.folder / "users.jsonl"),
            "orders": str(fixture.folder / "orders.jsonl"),
        },
        "success": {"tool_calls": calls, "must_state": facts, "handoff": handoff},
    }
    try:
        Scenario.model_validate(scenario)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise Tau2Error(f"task {scenario['id']}: cannot convert ({', '.join(fields)})") from None
    return scenario


def convert_file(tasks_path: Path, fixtures: Path) -> Converted:
    try:
        tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Tau2Error(f"cannot read {tasks_path} ({type(exc).__name__})") from None
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise Tau2Error(f"{tasks_path}: expected a JSON list of tau2 tasks")
    fixture = Fixture.read(fixtures)
    converted = [convert_task(task, fixture) for task in tasks]
    scenarios = [s for s in converted if s is not None]
    return Converted(scenarios, len(converted) - len(scenarios))
