"""The leader's answers: each tool's JSON schema is the one definition, and the checker reads it.

A schema-valid answer always passes: the checks are the schema's own (required fields, types,
enums, no unknown field, no blank text where text is required), plus only what a schema cannot
say (a parent that exists, the idea worker once a cycle). What the schema leaves optional has a
default here (worker ``code``, the task is the hypothesis), never a second, stricter rule.
A JSON null counts as an absent field, as OpenAI's strict mode writes optional ones.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ..hypotheses import Proposal
from ..planner import Plan, Reflection
from ..textsafe import inert, inert_lines
from .providers import ToolSpec

ACTIONS = ("experiment", "wait", "report")
NEXT_ACTIONS = ("iterate", "pivot", "report")
WORKERS = ("code", "idea")
NOT_BLANK = r"\S"
SCALAR = {"type": ["string", "number", "boolean"]}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


def _unit(what: str) -> dict[str, Any]:
    return {"type": "number", "minimum": 0, "maximum": 1, "description": what}


HYPOTHESIS = {
    "hypothesis": {"type": "string", "pattern": NOT_BLANK, "description": "what you expect and why"},
    "task": {"type": "string", "description": "exact instructions for the worker (default: the hypothesis)"},
    "success_criteria": {"type": "string", "description": "metric value that counts as success"},
    "params": {"type": "object", "additionalProperties": SCALAR, "description": "knobs this trial sets"},
    "parent": {"type": "string", "description": "trial id this builds on"},
    "utility": _unit("0-1: how much the metric gains if it works"),
    "quality": _unit("0-1: how likely it is to work, as specified"),
    "exploration": _unit("0-1: how far it is from what the trials already tried"),
}
VALUATION = ("utility", "quality", "exploration")


def _bare(properties: dict[str, Any]) -> dict[str, Any]:
    """The same fields without their descriptions: said once, at the top level (fewer tokens per THINK)."""
    return {name: {k: v for k, v in sub.items() if k != "description"} for name, sub in properties.items()}

SUBMIT_PLAN = ToolSpec("submit_plan", "Submit the next step of the research loop.", _object({
    "action": {"type": "string", "enum": list(ACTIONS)},
    "worker": {"type": "string", "enum": list(WORKERS), "description": "for experiment: code (the default) or idea"},
    **HYPOTHESIS,
    "hypotheses": {"type": "array", "items": _object(_bare(HYPOTHESIS), ["hypothesis"]),
                   "description": "more hypotheses for the pool, fields as above"},
}, ["action", "hypothesis"]))

SUBMIT_REFLECTION = ToolSpec("submit_reflection", "Submit your reflection on the finished trial.", _object({
    "decision": {"type": "string", "pattern": NOT_BLANK,
                 "description": "one line: what the result means, what next"},
    "next_action": {"type": "string", "enum": list(NEXT_ACTIONS)},
    "milestone": {"type": "string", "description": "one line for long-term memory, or empty"},
}, ["decision", "next_action"]))


# the checker: the schema's rules, read from the schema ----------------------------------------

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def check(schema: dict[str, Any], args: dict[str, Any]) -> list[str]:
    """Everything in ``args`` the object ``schema`` forbids (empty: valid)."""
    errors: list[str] = []
    properties = schema["properties"]
    extra = sorted(set(args) - set(properties))
    if extra and schema.get("additionalProperties") is False:
        errors.append(f"unknown field(s) {', '.join(extra)}; fields: {', '.join(properties)}")
    errors += [f"{name} is required" for name in schema.get("required", ()) if args.get(name) is None]
    for name, sub in properties.items():
        if args.get(name) is not None:
            errors += _check_value(name, sub, args[name])
    return errors


def _check_value(name: str, schema: dict[str, Any], value: Any) -> list[str]:
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or ())
    if types and not any(_TYPES[t](value) for t in types):
        wanted = ", ".join(types[:-1]) + (" or " if len(types) > 1 else "") + types[-1]
        return [f"{name} must be a{'n' if wanted[0] in 'aeiou' else ''} {wanted}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{name} must be one of {', '.join(map(str, schema['enum']))}, got {value!r}"]
    if "minimum" in schema and value < schema["minimum"] or "maximum" in schema and value > schema["maximum"]:
        return [f"{name} must be from {schema.get('minimum', '-inf')} to {schema.get('maximum', 'inf')}, got {value}"]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        if "properties" in items:
            return [f"{name}[{i}]: {e}" for i, item in enumerate(value)
                    for e in (check(items, item) if isinstance(item, dict) else ["must be an object"])]
        return [e for i, item in enumerate(value) for e in _check_value(f"{name}[{i}]", items, item)]
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return [f"{name} must not be empty" if schema["pattern"] == NOT_BLANK
                else f"{name} must match {schema['pattern']}"]
    inner = schema.get("additionalProperties")
    if isinstance(value, dict) and isinstance(inner, dict):
        return [e for key, item in value.items() for e in _check_value(f"{name}.{key}", inner, item)]
    return []


# the answers -----------------------------------------------------------------------------------

def validate_plan(args: dict[str, Any], *, known_trial: Callable[[str], bool], allow_idea: bool = True) -> list[str]:
    """Everything wrong with a submit_plan call (empty: valid)."""
    errors = check(SUBMIT_PLAN.schema, args)
    if args.get("action") == "experiment" and args.get("worker") == "idea" and not allow_idea:
        errors.append("the idea worker already ran this cycle: choose worker code, or action wait or report")
    for where, item in [("", args), *((f"hypotheses[{i}]: ", h) for i, h in enumerate(args.get("hypotheses") or ())
                                       if isinstance(h, dict))]:
        parent = item.get("parent")
        if isinstance(parent, str) and parent.strip() and not known_trial(parent.strip()):
            errors.append(f"{where}parent {parent.strip()!r} is not a trial in the ledger (leave it empty for none)")
    return errors


def validate_reflection(args: dict[str, Any]) -> list[str]:
    return check(SUBMIT_REFLECTION.schema, args)


def wants_ideas(data: dict[str, Any]) -> bool:
    return data["action"] == "experiment" and data.get("worker") == "idea"


def plan_from(data: dict[str, Any]) -> Plan:
    """A checked submit_plan call as a ``Plan``, the schema's defaults filled in, its text inert."""
    hypothesis = inert(data["hypothesis"].strip())
    return Plan(hypothesis=hypothesis, params=dict(data.get("params") or {}),
                task=inert_lines((data.get("task") or "").strip()) or hypothesis,
                success_criteria=inert((data.get("success_criteria") or "").strip()), worker="code",
                parent=(data.get("parent") or "").strip() or None, action=data["action"])


def reflection_from(data: dict[str, Any]) -> Reflection:
    """A checked submit_reflection call as a ``Reflection``: one line each, at most 300 characters."""
    return Reflection(decision=" ".join(data["decision"].split())[:300], next_action=data["next_action"],
                      milestone=" ".join((data.get("milestone") or "").split())[:300])


def proposals_from(data: dict[str, Any], role: str = "") -> list[Proposal]:
    """The plan's hypothesis and its ``hypotheses``, each a proposal for the pool (valuation default 0.5)."""
    out = []
    for item in [data, *(data.get("hypotheses") or ())]:
        plan = plan_from({**item, "action": "experiment"})
        out.append(Proposal(text=plan.hypothesis, role=role,
                            plan={"task": plan.task, "params": plan.params, "success_criteria": plan.success_criteria,
                                  "parent": plan.parent},
                            **{k: float(item[k]) for k in VALUATION if item.get(k) is not None}))
    return out


def plan_of(text: str, plan: dict[str, Any], role: str = "") -> Plan:
    """A pool's hypothesis as the plan to run."""
    return Plan(hypothesis=text, params=dict(plan.get("params") or {}), task=plan.get("task") or text,
                success_criteria=plan.get("success_criteria") or "", parent=plan.get("parent"), role=role)
