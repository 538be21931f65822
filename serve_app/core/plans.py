"""Plans, quotas, rate limits and prices from configs/plans.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RATE_CLASSES = ("upload", "status", "result", "credits", "rotate", "webhook")


class UnknownPlan(KeyError):
    pass


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
        data = yaml.safe_load(Path(path).read_text()) or {}
        plans = {
            name: _plan(name, entry or {}) for name, entry in (data.get("plans") or {}).items()
        }
        anonymous = (data.get("anonymous") or {}).get("rate_limits") or {}
        vendors = data.get("vendors") or {}
        return cls(data.get("costs") or {}, plans, anonymous, vendors)

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


def _plan(name: str, entry: dict[str, Any]) -> Plan:
    return Plan(
        name=name,
        free_daily=int(entry.get("free_daily", 0)),
        operations=tuple(entry.get("operations") or ("*",)),
        rate_limits={k: int(v) for k, v in (entry.get("rate_limits") or {}).items()},
        grant=entry.get("grant"),
        vip=bool(entry.get("vip", False)),
        max_in_flight=int(entry.get("max_in_flight", 0)),
    )
