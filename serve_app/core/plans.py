"""Plans, quotas, rate limits and prices from configs/plans.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serve_app.core import yaml_files

RATE_CLASSES = ("upload", "status", "result", "credits", "rotate", "webhook")


class UnknownPlan(KeyError):
    pass


class PlansError(yaml_files.ConfigError):
    """A plans file that cannot be used, said in one line naming the plan and the setting."""


@dataclass(frozen=True)
class Plan:
    name: str
    free_daily: int = 0
    operations: tuple[str, ...] = ("*",)
    rate_limits: dict[str, int] = field(default_factory=dict)
    grant: dict[str, Any] | None = None
    vip: bool = False  # a paying plan (PND's user_type "vip")
    max_in_flight: int = 0  # jobs queued or running at once per account (0: no cap)

    def allows(self, operation: str) -> bool:
        return "*" in self.operations or operation in self.operations

    def limit(self, rate_class: str) -> int | None:
        return self.rate_limits.get(rate_class)


@dataclass(frozen=True)
class Plans:
    costs: dict[str, Any]
    plans: dict[str, Plan]
    anonymous_limits: dict[str, int] = field(default_factory=dict)
    vendors: dict[str, Any] = field(default_factory=dict)  # a surface's own prices

    @classmethod
    def load(cls, path: Path) -> Plans:
        data = yaml_files.read(Path(path), PlansError, "costs, plans and their settings")
        plans = {name: _plan(name, entry) for name, entry in _section(data, "plans").items()}
        anonymous = _section(_section(data, "anonymous"), "rate_limits")
        return cls(_section(data, "costs"), plans, anonymous, _section(data, "vendors"))

    def cost(self, operation: str, tier_kind: str, tier: str | int) -> int:
        table = self.costs[operation]
        if isinstance(table, int):  # a flat price, whatever the size
            return table
        table = table[tier_kind]
        return int(table.get(tier, table.get(str(tier))))

    def exists(self, plan: str) -> bool:
        return plan in self.plans

    def get(self, plan: str) -> Plan:
        try:
            return self.plans[plan]
        except KeyError as exc:
            raise UnknownPlan(plan) from exc


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    return yaml_files.mapping(data.get(key), PlansError, f"plans file: `{key}` must be a mapping")


def _whole(plan: str, key: str, value: Any) -> int:
    return yaml_files.whole(value, PlansError, f"plan {plan}: {key}")


def _plan(name: str, entry: Any) -> Plan:
    entry = yaml_files.mapping(
        entry, PlansError, f"plan {name}: expected its settings (free_daily, rate_limits, ...)"
    )
    limits = yaml_files.mapping(
        entry.get("rate_limits"), PlansError, f"plan {name}: rate_limits must map a rate class"
    )
    return Plan(
        name=name,
        free_daily=_whole(name, "free_daily", entry.get("free_daily", 0)),
        operations=tuple(entry.get("operations") or ("*",)),
        rate_limits={k: _whole(name, f"rate_limits.{k}", v) for k, v in limits.items()},
        grant=entry.get("grant"),
        vip=bool(entry.get("vip", False)),
        max_in_flight=_whole(name, "max_in_flight", entry.get("max_in_flight", 0)),
    )
