"""Check requests against Discord's published OpenAPI 3.1 description (``vendor/discord-openapi/``).

The fake answers like Discord, but Discord itself would reject a malformed body with 400/50035; this module
is what lets the fake do the same, so a test cannot pass with a payload the real API refuses.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_ENV = "DISCORD_OPENAPI_PATH"
_DOC_URI = "urn:discord-openapi"
_METHODS = ("get", "put", "post", "patch", "delete")
SNOWFLAKE_MAX = 2**64 - 1


def spec_path() -> Path:
    override = os.environ.get(SPEC_ENV)
    if override:
        return Path(override)
    # local_discord/openapi.py -> the repository root is parents[1].
    return Path(__file__).resolve().parents[1] / "vendor" / "discord-openapi" / "openapi.json"


@dataclass(frozen=True)
class FieldError:
    """One reason Discord would reject the request; ``location`` starts with body/query/path.

    ``message`` is for people reading violations; ``code``/``text`` are what Discord puts in ``_errors``.
    """

    location: tuple[str | int, ...]
    message: str
    validator: str
    code: str = ""
    text: str = ""

    @classmethod
    def rule(cls, location: tuple[str | int, ...], code: str, text: str) -> FieldError:
        """A body rule the schema cannot express (limits across fields, flags), in Discord's words."""
        return cls(("body", *location), text, "rule", code, text)

    def __str__(self) -> str:
        return f"{'.'.join(str(p) for p in self.location)}: {self.message}"


@dataclass(frozen=True)
class _Param:
    name: str
    where: str  # "query" or "path"
    pointer: str  # JSON pointer to the parameter's schema inside the document
    types: frozenset[str]  # declared JSON types, used to coerce the raw string before validating


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pointer: str  # JSON pointer to the operation object
    body_pointer: str | None  # JSON pointer to the JSON request-body schema
    params: tuple[_Param, ...]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _declared_types(schema: Mapping[str, Any]) -> frozenset[str]:
    declared = schema.get("type", ())
    return frozenset([declared] if isinstance(declared, str) else declared)


def _coerce(raw: str, types: frozenset[str]) -> Any:
    """Turn a query/path string into the JSON value Discord's parser would see."""
    if "boolean" in types:
        # Discord accepts 1/0 as well as true/false (discord.py sends ``wait=1``).
        return {"true": True, "1": True, "false": False, "0": False}.get(raw.lower(), raw)
    if "integer" in types and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if "number" in types:
        try:
            return float(raw)
        except ValueError:
            return raw
    return raw


def template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    pattern = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{pattern}$")


class OpenAPISpec:
    """The loaded document plus lazily compiled, cached validators for each operation."""

    def __init__(self, document: dict[str, Any]) -> None:
        schemas = document["components"]["schemas"]
        # Discord parses snowflakes from JSON integers as well as strings, and discord.py sends integers
        # (allowed_mentions.users, message_reference.message_id, recipient_id); the spec only lists strings.
        # Snowflakes are unsigned 64-bit: the "snowflake" format bounds the digit strings too.
        as_int = {"type": "integer", "minimum": 0, "maximum": SNOWFLAKE_MAX, "format": "snowflake"}
        schemas["SnowflakeType"] = {"anyOf": [schemas["SnowflakeType"], as_int]}
        self.document = document
        self._registry: Registry[Any] = Registry().with_resource(
            _DOC_URI, DRAFT202012.create_resource(document)
        )
        self._validators: dict[str, Any] = {}
        self._routes: list[tuple[re.Pattern[str], Operation]] = []
        for template, item in document["paths"].items():
            shared = item.get("parameters", [])
            for method in _METHODS:
                if method in item:
                    op = self._operation(template, method, item[method], shared)
                    self._routes.append((template_regex(template), op))
        # Literal segments beat placeholders: /users/@me/channels must not match /users/{user_id}/channels.
        self._routes.sort(key=lambda r: r[1].template.count("{"))

    def _operation(
        self, template: str, method: str, op: Mapping[str, Any], shared: list[Mapping[str, Any]]
    ) -> Operation:
        item_ptr = f"/paths/{_escape(template)}"
        op_ptr = f"{item_ptr}/{method}"
        params: dict[tuple[str, str], _Param] = {}
        for base, plist in (
            (f"{item_ptr}/parameters", shared),
            (f"{op_ptr}/parameters", op.get("parameters", [])),
        ):
            for i, p in enumerate(plist):
                if p["in"] in ("query", "path"):
                    params[(p["name"], p["in"])] = _Param(
                        p["name"], p["in"], f"{base}/{i}/schema", _declared_types(p.get("schema", {}))
                    )
        content = op.get("requestBody", {}).get("content", {})
        body_ptr = None
        # multipart bodies carry the same object in payload_json, so the JSON schema covers both.
        for ctype in ("application/json", *content):
            if ctype in content:
                body_ptr = f"{op_ptr}/requestBody/content/{_escape(ctype)}/schema"
                break
        return Operation(method.upper(), template, op_ptr, body_ptr, tuple(params.values()))

    def _validator(self, pointer: str) -> Any:
        try:
            return self._validators[pointer]
        except KeyError:
            v = jsonschema.Draft202012Validator(
                {"$ref": f"{_DOC_URI}#{pointer}"}, registry=self._registry, format_checker=_FORMATS
            )
            self._validators[pointer] = v
            return v

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation for ``path`` (relative to /api/v10) and its path parameters, or None."""
        method = method.upper()
        for regex, op in self._routes:
            if op.method == method and (m := regex.match(path)):
                return op, m.groupdict()
        return None

    def validate(
        self, op: Operation, path_params: Mapping[str, str], query: Mapping[str, str], body: Any | None
    ) -> list[FieldError]:
        errors: list[FieldError] = []
        for p in op.params:
            values = path_params if p.where == "path" else query
            if p.name in values:
                value = _coerce(values[p.name], p.types)
                errors += _errors(self._validator(p.pointer), value, (p.where, p.name))
        if body is not None and op.body_pointer is not None:
            errors += _errors(self._validator(op.body_pointer), body, ("body",))
        return errors


# Only the snowflake format is checked: the spec's other formats (uri, date-time, nonce) are left to the
# rules Discord documents, so the fake does not refuse what Discord might accept.
_FORMATS = jsonschema.FormatChecker(formats=())


def _is_snowflake(value: object) -> bool:
    if isinstance(value, str):
        return not value.isdigit() or int(value) <= SNOWFLAKE_MAX  # non-digits fail the pattern instead
    return True


_FORMATS.checks("snowflake")(_is_snowflake)


def _ruled_out(errs: list[Any]) -> bool:
    # A oneOf/anyOf branch does not apply if the instance has the wrong JSON type or "type" discriminator.
    return any(
        list(e.relative_path) == ["type"] or (not e.relative_path and e.validator == "type") for e in errs
    )


def _causes(err: Any) -> list[Any]:
    """The real reasons a oneOf/anyOf failed: every error of the one branch that applies to the instance."""
    if not err.context:
        return [err]
    branches: dict[Any, list[Any]] = {}
    for e in err.context:
        branches.setdefault(e.schema_path[0], []).append(e)
    applicable = [errs for errs in branches.values() if not _ruled_out(errs)]
    if not applicable:
        return _causes(jsonschema.exceptions.best_match(err.context))
    # Several branches may apply (two request schemas sharing the components, say): the one with
    # the fewest causes is the one the body nearly matches, so its field is the one to name.
    return min(([c for e in errs for c in _causes(e)] for errs in applicable), key=len)


def _discord_error(err: Any) -> tuple[tuple[str | int, ...], str, str]:
    """Where Discord reports ``err``, its ``_errors`` code and message (Discord's wording where known)."""
    path: tuple[str | int, ...] = tuple(err.absolute_path)
    schema = err.schema if isinstance(err.schema, dict) else {}
    kind, value = err.validator, err.validator_value
    if schema.get("format") == "snowflake":
        return path, "NUMBER_TYPE_COERCE", f'Value "{err.instance}" is not snowflake.'
    if kind == "required":
        missing = next((p for p in value if p not in err.instance), value[0])
        return (*path, missing), "BASE_TYPE_REQUIRED", "This field is required"
    bounds = {
        "maxLength": "minLength",
        "minLength": "maxLength",
        "maxItems": "minItems",
        "minItems": "maxItems",
    }
    if kind in bounds:
        other = schema.get(bounds[kind])
        low, high = (other, value) if kind.startswith("max") else (value, other)
        if low is not None and high is not None and low > 0:
            return path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."
        if kind.startswith("max"):
            return path, "BASE_TYPE_MAX_LENGTH", f"Must be {value} or fewer in length."
        return path, "BASE_TYPE_MIN_LENGTH", f"Must be {value} or more in length."
    if kind == "maximum":
        return path, "NUMBER_TYPE_MAX", f"int value should be less than or equal to {value}."
    if kind == "minimum":
        return path, "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {value}."
    if kind in ("enum", "const"):
        choices = ", ".join(str(c) for c in (value if kind == "enum" else [value]))
        return path, "BASE_TYPE_CHOICES", f"Value must be one of ({choices})."
    return path, f"SCHEMA_{str(kind).upper()}", err.message


def _errors(validator: Any, instance: Any, prefix: tuple[str | int, ...]) -> list[FieldError]:
    out = []
    for err in validator.iter_errors(instance):
        # For oneOf/anyOf the top message ("not valid under any of the given schemas") hides the cause.
        for cause in _causes(err):
            path, code, text = _discord_error(cause)
            out.append(FieldError((*prefix, *path), cause.message, str(cause.validator), code, text))
    return out


def invalid_form_body(errors: list[FieldError]) -> dict[str, Any]:
    """Discord's 50035 response: errors nested by field path, each leaf holding ``_errors``."""
    tree: dict[str, Any] = {}
    for e in errors:
        node = tree
        for key in e.location[1:] or e.location:
            node = node.setdefault(str(key), {})
        code = e.code or f"SCHEMA_{e.validator.upper()}"
        node.setdefault("_errors", []).append({"code": code, "message": e.text or e.message})
    return {"message": "Invalid Form Body", "code": 50035, "errors": tree}


@functools.cache
def load_spec() -> OpenAPISpec:
    """Parse and index the spec once per process (it is over 1 MB)."""
    with spec_path().open(encoding="utf-8") as f:
        return OpenAPISpec(json.load(f))
