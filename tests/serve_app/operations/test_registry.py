"""The registry is the only list of operations, and the configs agree with it: a price of the
right shape in plans.yaml, the models each needs in models.yaml, a deployment in code."""

from __future__ import annotations

import dataclasses
import pkgutil

import pytest
import yaml
from ray.serve import Deployment

from serve_app import operations
from serve_app.core.catalog import Catalog
from serve_app.core.settings import CONFIGS
from serve_app.operations import Price
from serve_app.operations._operation import deployment_class

OPERATIONS = operations.all_operations()
BY_NAME = pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)


def test_every_public_module_of_the_package_is_one_registered_operation():
    modules = [m.name for m in pkgutil.iter_modules(operations.__path__) if m.name[0] != "_"]
    assert sorted(m.replace("_", "-") for m in modules) == sorted(operations.names())


def test_a_second_operation_under_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="two operations"):
        operations.register(dataclasses.replace(operations.get("upscale"), summary="another"))


def enum(schema: dict, name: str) -> list:
    field = schema["properties"][name]
    options = [field, *field.get("anyOf", [])]
    return next(option["enum"] for option in options if "enum" in option)


@BY_NAME
def test_plans_yaml_prices_it_the_way_it_is_priced(op):
    costs = yaml.safe_load((CONFIGS / "plans.yaml").read_text())["costs"]
    assert op.name in costs, f"configs/plans.yaml has no price for {op.name}"
    price = costs[op.name]
    if op.price is Price.FLAT:
        assert isinstance(price, int) and price >= 0
        return
    if op.price is Price.BY_MODEL:  # every model of its groups has a price
        catalog = Catalog.load(CONFIGS / "models.yaml", None, CONFIGS)
        names = {spec.name for group in op.models for spec in catalog.for_operation(group)}
        assert names and names <= set(price["model"]), f"{op.name}: {names - set(price['model'])}"
        return
    schema = op.params.model_json_schema()
    assert {str(s) for s in enum(schema, "scale")} <= {str(s) for s in price["scale"]}
    assert set(enum(schema, "size")) <= set(price["size"])


def test_plans_name_only_operations_that_exist():
    plans = yaml.safe_load((CONFIGS / "plans.yaml").read_text())["plans"]
    for name, plan in plans.items():
        assert set(plan["operations"]) <= {"*", *operations.names()}, name


@BY_NAME
def test_models_yaml_has_the_models_it_needs(op):
    catalog = Catalog.load(CONFIGS / "models.yaml", None, CONFIGS)
    for group in op.models:
        assert catalog.for_operation(group), f"{op.name}: no model of group {group}"
    if op.fetch:
        assert op.fetch in catalog.specs, f"{op.name}: `weights fetch {op.fetch}` names nothing"


@BY_NAME
def test_its_deployment_is_a_serve_deployment_with_its_method(op):
    deployment = deployment_class(op.deployment)
    assert isinstance(deployment, Deployment)
    assert callable(getattr(deployment.func_or_class, op.method))
    assert callable(deployment.func_or_class.status)
