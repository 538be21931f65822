"""Plans and prices from configs/plans.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Plans:
    costs: dict[str, Any]
    plans: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> Plans:
        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls(costs=data.get("costs") or {}, plans=data.get("plans") or {})

    def cost(self, operation: str, tier_kind: str, tier: str | int) -> int:
        table = self.costs[operation][tier_kind]
        return int(table.get(tier, table.get(str(tier))))

    def exists(self, plan: str) -> bool:
        return plan in self.plans
