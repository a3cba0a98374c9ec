"""Field declarations: the one place where a spec field's description, bounds and default live.

``spec`` declares the ReadinessCheck's spec as frozen dataclasses whose fields are made with
``field()`` from here. Two readers consume that metadata and nothing else: ``schema`` turns it
into the CRD's OpenAPI schema, and ``parse`` enforces the very same bounds in code (the API
server is not the only way in: the CLI reads files, and old API servers skip some validation).
So a bound is written once, and the schema and the code cannot disagree. Rules across fields are
declared once too, as ``Rule``s in a class's ``RULES``: CEL for the API server
(``x-kubernetes-validations``), enforced again in ``parse``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING
from typing import Any

META_KEY = "readygate"


@dataclasses.dataclass(frozen=True, kw_only=True)
class FieldMeta:
    """What a field promises beyond its Python type."""

    description: str
    json_name: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int | None = None
    max_items: int | None = None
    item_enum: tuple[str, ...] | None = None
    item_pattern: str | None = None
    duration: bool = False
    percent: bool = False  # a fraction in Python, "99.9%" in YAML
    schema_default: Any = None


def field(
    description: str,
    *,
    default: Any = MISSING,
    default_factory: Any = MISSING,
    json_name: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    enum: tuple[str, ...] | None = None,
    pattern: str | None = None,
    max_length: int | None = None,
    max_items: int | None = None,
    item_enum: tuple[str, ...] | None = None,
    item_pattern: str | None = None,
    duration: bool = False,
    percent: bool = False,
    schema_default: Any = None,
) -> Any:
    """A dataclass field carrying its schema metadata.

    ``schema_default`` is the default as the API server shows it (a duration as ``"30s"``),
    when it differs from the Python default (``30.0``); otherwise the Python default is used.
    """
    meta = FieldMeta(
        description=description,
        json_name=json_name,
        minimum=minimum,
        maximum=maximum,
        exclusive_minimum=exclusive_minimum,
        enum=enum,
        pattern=pattern,
        max_length=max_length,
        max_items=max_items,
        item_enum=item_enum,
        item_pattern=item_pattern,
        duration=duration,
        percent=percent,
        schema_default=schema_default,
    )
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={META_KEY: meta})
    return dataclasses.field(default=default, metadata={META_KEY: meta})


@dataclasses.dataclass(frozen=True)
class Rule:
    """A rule across an object's fields, for the API server: a CEL expression (``self`` is the
    object) and the message ``kubectl apply`` shows when it is false. ``parse`` enforces the
    same rule in code (for the CLI and for the tests that compare the two)."""

    rule: str
    message: str
    message_expression: str | None = None
    field_path: str | None = None  # the field the message is about, e.g. ".resilience"


def rules_of(cls: type) -> tuple[Rule, ...]:
    """The ``RULES`` a spec class declares (a ``ClassVar``), or none."""
    rules = cls.__dict__.get("RULES", ())
    return tuple(rules)


def meta_of(f: dataclasses.Field[Any]) -> FieldMeta:
    meta = f.metadata.get(META_KEY)
    if not isinstance(meta, FieldMeta):
        raise TypeError(f"field {f.name!r} was not declared with readygate.api.fields.field()")
    return meta


def json_name(f: dataclasses.Field[Any]) -> str:
    """The field's name in YAML/JSON: explicit, else the snake_case name in camelCase."""
    meta = meta_of(f)
    if meta.json_name:
        return meta.json_name
    head, *rest = f.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not MISSING or f.default_factory is not MISSING
