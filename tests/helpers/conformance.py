"""Every answer checked against what /openapi.json declares for its route and status: the
app client of the test suite runs each response through `Conformance.check`, so every test
that calls the API also checks the declared schemas (Schemathesis checks them on generated
requests)."""

from __future__ import annotations

import re

import httpx
import jsonschema


class Undeclared(AssertionError):
    pass


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$")


class Conformance:
    def __init__(self, spec: dict):
        self.spec = spec
        templates = sorted(spec["paths"], key=lambda t: t.count("{"))  # literal paths first
        self.routes = [(_pattern(t), t) for t in templates]

    def operation(self, method: str, path: str) -> dict | None:
        for pattern, template in self.routes:
            if pattern.match(path):
                found = self.spec["paths"][template].get(method.lower())
                if found is not None:
                    return found
        return None

    def declared(self, operation: dict, status: int) -> dict | None:
        responses = operation.get("responses", {})
        for code in (str(status), f"{status // 100}XX", "default"):
            if code in responses:
                return responses[code]
        return None

    def check(self, response: httpx.Response) -> None:
        request = response.request
        operation = self.operation(request.method, request.url.path)
        if operation is None or request.method == "HEAD":
            return
        declared = self.declared(operation, response.status_code)
        where = f"{request.method} {request.url.path} -> {response.status_code}"
        if declared is None:
            if 200 <= response.status_code < 300:
                raise Undeclared(f"{where}: this status is not declared")
            return  # 304, and 5xx (the fuzz checks see to those)
        self._body(declared.get("content") or {}, response, where)

    def _body(self, content: dict, response: httpx.Response, where: str) -> None:
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        if not response.content:
            return
        if kind not in content:
            raise Undeclared(f"{where}: {kind or 'a body'} is not declared ({list(content)})")
        schema = content[kind].get("schema")
        if kind == "application/json" and schema:
            document = {**schema, "components": self.spec.get("components", {})}
            try:
                jsonschema.Draft202012Validator(document).validate(response.json())
            except jsonschema.ValidationError as exc:
                raise Undeclared(f"{where}: {exc.message} at {list(exc.absolute_path)}") from exc
