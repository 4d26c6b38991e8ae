"""The REST specification's schemas, as JSON Schema, to check every answer the ARM stand-in gives.

tests/spec/ keeps the definitions of Microsoft.MachineLearningServices 2025-12-01 (and ARM's common
types) that the stand-in answers with, extracted from azure-rest-api-specs (MIT, see its LICENSE).
They are Swagger 2.0; `SpecSchemas` turns them into JSON Schema (draft 7) the way AutoRest reads them:

- `x-nullable: true` allows null; without it a null value is a violation.
- `x-ms-enum: {modelAsString: true}` is an extensible enum: any string (clients must accept new
  values), so the enum is not enforced; a closed enum is.
- `discriminator` (computeType, jobType, jobOutputType) picks the subtype whose
  `x-ms-discriminator-value` matches, and that subtype's schema applies too.
- formats `date-time`, `uri` and `duration` are checked.

`KNOWN_DEVIATIONS` are the answers real Azure gives that the specification does not allow; the
stand-in serves them only for a record that asks for them, and they are counted, not hidden.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jsonschema import Draft7Validator, FormatChecker

SPEC_FILE = Path(__file__).parent / "spec" / "machinelearningservices-2025-12-01.json"
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


@dataclass(frozen=True, slots=True)
class Deviation:
    """An answer shape real Azure gives although the specification forbids it."""

    path_suffix: tuple[str, ...]
    why: str

    def matches(self, path: tuple[str, ...], instance: Any) -> bool:
        return instance is None and path[-len(self.path_suffix) :] == self.path_suffix


KNOWN_DEVIATIONS = (
    Deviation(
        ("properties", "properties", "personalComputeInstanceSettings", "assignedUser"),
        "assignedUser: null (the specification's AssignedUser is not x-nullable; Azure sends it for "
        "instances whose assigned user was removed, and azure-ai-ml 1.35.2 fails on it)",
    ),
)


class SpecSchemas:
    """JSON Schema validators for the specification's definitions, by definition name."""

    def __init__(self, document: dict[str, Any]) -> None:
        definitions = {name: _convert(body) for name, body in document["definitions"].items()}
        definitions |= {f"common.{name}": _convert(body) for name, body in document["common"].items()}
        _resolve_discriminators(definitions, document)
        self._root = {"definitions": definitions}
        self._checker = _format_checker()

    def errors(self, definition: str, body: Any) -> Iterator[tuple[tuple[str, ...], str, Any]]:
        """(path, message, offending value) for each way `body` breaks `definition`."""
        key = definition if definition in self._root["definitions"] else f"common.{definition}"
        schema = {**self._root, "$ref": f"#/definitions/{key}"}
        validator = Draft7Validator(schema, format_checker=self._checker)
        for error in validator.iter_errors(body):
            deepest = _deepest(error)
            yield tuple(str(p) for p in deepest.absolute_path), deepest.message, deepest.instance


@cache
def spec_schemas() -> SpecSchemas:
    return SpecSchemas(json.loads(SPEC_FILE.read_text(encoding="utf-8")))


def violations(definition: str, body: Any) -> tuple[list[str], list[str]]:
    """(violations, known deviations) of one answer, each as 'path: message'."""
    bad: list[str] = []
    known: list[str] = []
    for path, message, instance in spec_schemas().errors(definition, body):
        line = f"{definition} at /{'/'.join(path)}: {message}"
        deviation = next((d for d in KNOWN_DEVIATIONS if d.matches(path, instance)), None)
        (known if deviation else bad).append(line)
    return bad, known


def _deepest(error: Any) -> Any:
    """anyOf/allOf wrap the real reason: follow the context to the most specific error."""
    while error.context:
        error = max(error.context, key=lambda e: (len(e.absolute_path), e.validator_value != "null"))
    return error


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k not in ("x-nullable", "x-ms-enum")}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/common/", "#/definitions/common.")
        siblings = {k: v for k, v in out.items() if k in ("readOnly", "default")}
        out = {"$ref": out["$ref"], **siblings}  # draft 7 ignores siblings of $ref anyway
    if (node.get("x-ms-enum") or {}).get("modelAsString"):
        out.pop("enum", None)
    if node.get("x-nullable"):
        return {"anyOf": [{"type": "null"}, out]}
    return out


def _resolve_discriminators(definitions: dict[str, Any], document: dict[str, Any]) -> None:
    """A base with a discriminator also applies the schema of the subtype its value names."""
    raw = document["definitions"]
    for base, body in raw.items():
        prop = body.get("discriminator")
        if not prop:
            continue
        subtypes = {
            name: sub["x-ms-discriminator-value"]
            for name, sub in raw.items()
            if sub.get("x-ms-discriminator-value")
            and any(p.get("$ref") == f"#/definitions/{base}" for p in sub.get("allOf", []))
        }
        definitions[f"{base}.base"] = copy.deepcopy(definitions[base])
        for name in subtypes:
            for part in definitions[name]["allOf"]:
                if part.get("$ref") == f"#/definitions/{base}":
                    part["$ref"] = f"#/definitions/{base}.base"
        branches = [
            {
                "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                "then": {"$ref": f"#/definitions/{name}"},
            }
            for name, value in subtypes.items()
        ]
        definitions[base] = {"allOf": [{"$ref": f"#/definitions/{base}.base"}, *branches]}


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time")
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or bool(_DATE_TIME.match(value))

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = urlparse(value)
        return bool(parsed.scheme and parsed.netloc)

    @checker.checks("duration")
    def _duration(value: object) -> bool:
        return not isinstance(value, str) or bool(_DURATION.match(value))

    return checker
