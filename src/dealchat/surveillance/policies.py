"""Lexicon policies as data, pure: YAML text -> validated `Policy`, refused with reasons otherwise.

    name: performance-guarantees          # letters, digits, - and _
    version: 1                            # set by the store when proposed
    category: misconduct
    severity: high                        # low | medium | high (a rule may override)
    rules:
      - id: guarantee-return
        query: guarant* NEAR/3 (return* OR profit*)
      - id: cn-guarantee
        query: 保证 NEAR/4 (回报 OR 收益)
        severity: medium
    exclusions: ["guaranteed delivery"]
    filters:                              # all optional; empty means every
      channels: [webchat]
      exclude_channels: []
      participants: []                    # sender ids or usernames
      exclude_participants: [bot]
      directions: [in]                    # in | out

The bundled policies under `surveillance/policies/` are always on (changed through code review);
a policy approved in the database under the same name replaces the bundled one.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dealchat.surveillance import query
from dealchat.surveillance.lexicon import Filters, Policy, Rule

Severity = Literal["low", "medium", "high"]
NAME = r"^[a-z0-9][a-z0-9_-]{1,63}$"


class PolicyError(ValueError):
    """A policy that cannot be loaded; the message lists every problem."""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=NAME)
    query: str = Field(min_length=1, max_length=2000)
    severity: Severity | None = None

    @field_validator("query")
    @classmethod
    def _parses(cls, text: str) -> str:
        query.parse(text)  # QueryError is a ValueError: pydantic reports it on this field
        return text


class _Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[str] = Field(default_factory=list)
    exclude_channels: list[str] = Field(default_factory=list)
    participants: list[str] = Field(default_factory=list)
    exclude_participants: list[str] = Field(default_factory=list)
    directions: list[Literal["in", "out"]] = Field(default_factory=list)


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME)
    version: int = Field(default=1, ge=1)
    description: str = ""
    category: str = Field(default="misconduct", pattern=NAME)
    severity: Severity = "medium"
    rules: list[_Rule] = Field(min_length=1, max_length=5000)
    exclusions: list[str] = Field(default_factory=list, max_length=1000)
    filters: _Filters = Field(default_factory=_Filters)

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[_Rule]) -> list[_Rule]:
        ids = [rule.id for rule in rules]
        doubled = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if doubled:
            raise ValueError(f"rule ids used twice: {', '.join(doubled)}")
        return rules

    @field_validator("exclusions")
    @classmethod
    def _terms(cls, exclusions: list[str]) -> list[str]:
        for text in exclusions:
            query.term(text)
        return exclusions


def load(source: str | dict[str, Any], *, version: int | None = None) -> Policy:
    """Validate a policy given as YAML text or a mapping; PolicyError lists what is wrong."""
    try:
        data: Any = yaml.safe_load(source) if isinstance(source, str) else source
    except (yaml.YAMLError, RecursionError) as error:  # malformed or nested past reason
        raise PolicyError(f"not valid YAML: {str(error)[:300]}") from None
    if not isinstance(data, dict):
        raise PolicyError("a policy is a mapping with name, rules, ...")
    if version is not None:
        data = {**data, "version": version}
    try:
        spec = _Policy.model_validate(data)
    except ValidationError as error:
        raise PolicyError(_problems(error)) from None
    return _build(spec)


def _problems(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "policy"
        lines.append(f"{where}: {problem['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def _build(spec: _Policy) -> Policy:
    filters = spec.filters
    return Policy(
        name=spec.name,
        version=spec.version,
        category=spec.category,
        rules=tuple(
            Rule(rule.id, rule.query, query.parse(rule.query), rule.severity or spec.severity)
            for rule in spec.rules
        ),
        exclusions=tuple(query.term(text) for text in spec.exclusions),
        filters=Filters(
            channels=frozenset(filters.channels),
            exclude_channels=frozenset(filters.exclude_channels),
            participants=frozenset(filters.participants),
            exclude_participants=frozenset(filters.exclude_participants),
            directions=frozenset(filters.directions),
        ),
    )


def bundled() -> list[Policy]:
    """The policies shipped with dealchat (always on unless replaced by an approved one)."""
    folder = resources.files("dealchat.surveillance") / "policies"
    return [
        load(item.read_text(encoding="utf-8"))
        for item in sorted(folder.iterdir(), key=lambda entry: entry.name)
        if item.name.endswith(".yaml")
    ]
