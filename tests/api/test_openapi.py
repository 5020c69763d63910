"""The OpenAPI document is valid and every response of the main endpoints matches it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.api.helpers import API, ticket_body
from tests.conftest import AgentLogin, make_agent
from walletdesk.runtime import Runtime

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


class SchemaChecker:
    """Enough of JSON Schema for what FastAPI writes: $ref, anyOf, enum, types, formats, limits.

    Stricter than JSON Schema in one way: an object may not carry keys its schema does not
    declare, so a field added to a response but not to the document is caught.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return dict(node)

    def errors(self, value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
        if "$ref" in schema:
            return self.errors(value, self.resolve(schema["$ref"]), where)
        if "anyOf" in schema or "oneOf" in schema:
            options = schema.get("anyOf") or schema["oneOf"]
            if any(not self.errors(value, option, where) for option in options):
                return []
            return [f"{where}: {value!r} matches none of {options}"]
        problems = [
            f"{where}: {part} not satisfied"
            for part in schema.get("allOf", [])
            if self.errors(value, part, where)
        ]
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} not in {schema['enum']}")
        if "const" in schema and value != schema["const"]:
            problems.append(f"{where}: {value!r} is not {schema['const']!r}")
        kind = schema.get("type")
        if kind is not None:
            kinds = kind if isinstance(kind, list) else [kind]
            allowed = tuple(t for k in kinds for t in JSON_TYPES[k])
            is_bool = isinstance(value, bool)
            if not isinstance(value, allowed) or (is_bool and "boolean" not in kinds):
                return [*problems, f"{where}: {value!r} is not {kind}"]
        if isinstance(value, str):
            problems += self._string(value, schema, where)
        if isinstance(value, dict):
            problems += self._object(value, schema, where)
        if isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                problems += self.errors(item, schema["items"], f"{where}[{index}]")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                problems.append(f"{where}: {value} < {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                problems.append(f"{where}: {value} > {schema['maximum']}")
        return problems

    def _string(self, value: str, schema: dict[str, Any], where: str) -> list[str]:
        problems = []
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{where}: does not match {schema['pattern']}")
        if schema.get("format") == "date-time":
            try:
                stamp = datetime.fromisoformat(value)
            except ValueError:
                problems.append(f"{where}: {value!r} is not a date-time")
            else:
                if stamp.tzinfo is None:
                    problems.append(f"{where}: {value!r} has no time zone")
        return problems

    def _object(self, value: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
        properties: dict[str, Any] = schema.get("properties", {})
        problems = [
            f"{where}: missing {key}" for key in schema.get("required", []) if key not in value
        ]
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                problems += self.errors(item, properties[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                problems += self.errors(item, extra, f"{where}.{key}")
            elif extra is False or (extra is None and properties):
                problems.append(f"{where}: undeclared key {key!r}")
        return problems


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get(f"{API}/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def _operation(spec: dict[str, Any], method: str, template: str) -> dict[str, Any]:
    operation: dict[str, Any] = spec["paths"][template][method.lower()]
    return operation


def _check_response(
    spec: dict[str, Any], method: str, template: str, answer: httpx.Response
) -> None:
    responses = _operation(spec, method, template)["responses"]
    declared = responses.get(str(answer.status_code))
    assert declared is not None, f"{method} {template} answered undeclared {answer.status_code}"
    schema = declared["content"]["application/json"]["schema"]
    problems = SchemaChecker(spec).errors(answer.json(), schema)
    assert problems == [], f"{method} {template} {answer.status_code}: {problems}"


def _check_request(spec: dict[str, Any], method: str, template: str, body: Any) -> None:
    schema = _operation(spec, method, template)["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert SchemaChecker(spec).errors(body, schema) == []


def test_the_checker_catches_what_it_should() -> None:
    spec = {
        "components": {
            "schemas": {
                "T": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "integer"},
                        "at": {"type": "string", "format": "date-time"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "status": {"enum": ["new", "open"]},
                        "team": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                    },
                }
            }
        }
    }
    checker = SchemaChecker(spec)
    ref = {"$ref": "#/components/schemas/T"}
    assert checker.errors({"id": 1, "team": None, "tags": ["a"], "status": "new"}, ref) == []
    for bad in [
        {},
        {"id": "1"},
        {"id": True},
        {"id": 1, "at": "2026-01-01T00:00:00"},
        {"id": 1, "tags": [1]},
        {"id": 1, "status": "gone"},
        {"id": 1, "team": "x"},
        {"id": 1, "surprise": 1},
    ]:
        assert checker.errors(bad, ref), bad


async def test_the_openapi_document_is_valid_and_complete(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"] and spec["info"]["version"]
    paths = spec["paths"]
    for template, methods in {
        "/api/v1/tickets": {"get", "post"},
        "/api/v1/tickets/{number}": {"get", "patch"},
        "/api/v1/tickets/{number}/messages": {"post"},
        "/api/v1/tickets/{number}/escalate": {"post"},
        "/api/v1/contacts/{contact_id}": {"get"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }.items():
        assert methods <= set(paths[template]), template
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    # Every reference points at something, every operation says what it answers.
    text = str(spec)
    for ref in set(re.findall(r"'\$ref': '([^']+)'", text)):
        SchemaChecker(spec).resolve(ref)
    for template, methods in paths.items():
        for method, operation in methods.items():
            assert operation["responses"], (method, template)
            if template.startswith("/api/v1/tickets") or template.startswith("/api/v1/contacts"):
                for status in ("401", "422"):
                    assert status in operation["responses"], (method, template, status)
                    schema = operation["responses"][status]["content"]["application/json"]
                    assert schema["schema"] == {"$ref": "#/components/schemas/ErrorOut"}


async def test_responses_of_the_main_endpoints_match_the_document(
    client: httpx.AsyncClient, runtime: Runtime, spec: dict[str, Any]
) -> None:
    lead = await make_agent(runtime.db, "supervisor", 1)
    l2 = await make_agent(runtime.db, "agent", 2)
    body = ticket_body(customer={"email": "li.si@example.com", "phone": "+8613912345678"})
    _check_request(spec, "POST", "/api/v1/tickets", body)
    created = await client.post(f"{API}/tickets", headers=lead.headers, json=body)
    _check_response(spec, "POST", "/api/v1/tickets", created)
    number = created.json()["number"]

    ticket = f"/tickets/{number}"
    contact = f"/contacts/{created.json()['contact_id']}"
    one, replies = "/api/v1/tickets/{number}", "/api/v1/tickets/{number}/messages"
    # (method, path template, path, body, who, whether the body is meant to be valid)
    calls: list[tuple[str, str, str, Any, AgentLogin | None, bool]] = [
        ("GET", one, ticket, None, lead, True),
        ("PATCH", one, ticket, {"tags": ["vip"], "priority": "high"}, lead, True),
        ("POST", replies, f"{ticket}/messages", {"body": "收到", "status": "pending"}, lead, True),
        ("POST", replies, f"{ticket}/messages", {"body": "备注", "internal": True}, lead, True),
        ("GET", "/api/v1/tickets", "/tickets", None, lead, True),
        ("GET", one, ticket, None, l2, True),
        ("POST", one + "/escalate", f"{ticket}/escalate", {"reason": "ledger"}, lead, True),
        ("GET", one, ticket, None, lead, True),
        ("GET", "/api/v1/contacts/{contact_id}", contact, None, lead, True),
        ("GET", "/api/v1/contacts/{contact_id}", "/contacts/2147483000", None, lead, True),
        ("GET", one, "/tickets/1234567890", None, lead, True),
        ("GET", one, ticket, None, None, True),
        ("PATCH", one, ticket, {"status": "gone"}, lead, False),
        ("POST", "/api/v1/tickets", "/tickets", {"subject": ""}, lead, False),
        ("GET", "/api/v1/tickets", "/tickets?limit=0", None, lead, False),
    ]
    seen_statuses = set()
    for method, template, path, payload, login, valid in calls:
        if payload is not None and valid:
            _check_request(spec, method, template, payload)
        headers = login.headers if login else {}
        answer = await client.request(method, API + path, headers=headers, json=payload)
        _check_response(spec, method, template, answer)
        seen_statuses.add(answer.status_code)
        if template == "/api/v1/tickets" and answer.status_code == 200:
            assert answer.json()["tickets"], "the list holds at least this test's ticket"
    assert {200, 201, 401, 403, 404, 422} <= seen_statuses


async def test_health_endpoints_match_the_document(
    client: httpx.AsyncClient, spec: dict[str, Any]
) -> None:
    for path in ("/healthz", "/readyz"):
        answer = await client.get(path)
        assert answer.status_code == 200
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert SchemaChecker(spec).errors(answer.json(), schema["schema"]) == []
