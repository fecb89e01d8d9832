"""DRF serializers derived from ``TypedDict`` declarations: one declaration is the truth for a JSON shape.

Stored payloads stay plain dicts (reading them costs nothing); their ``TypedDict`` says what they
hold, mypy checks the code that builds and reads them, and :func:`typed_dict_serializer` turns the
same declaration into a DRF serializer so the OpenAPI schema documents every field and a test can
validate a payload against it. The mapping:

===============================  ============================================================
annotation                       field
===============================  ============================================================
``float`` / ``int`` / ``str``    ``FloatField`` / ``IntegerField`` / ``CharField(allow_blank)``
``bool``                         ``BooleanField``
``datetime.date`` / ``datetime`` ``DateField`` / ``DateTimeField``
``uuid.UUID``                    ``UUIDField``
``X | None``                     the field of ``X`` with ``allow_null=True``
``Literal["a", "b"]``            ``ChoiceField``
``list[X]`` / ``tuple[X, ...]``  ``ListField(child=…)``, or ``X``'s serializer with ``many=True``
``dict[str, X]``                 ``DictField(child=…)``
a nested ``TypedDict``           its own derived serializer (one schema component per TypedDict)
``NotRequired[X]``               ``required=False``
``Any`` / anything else          ``JSONField``
===============================  ============================================================

``Annotated[X, "help text"]`` adds a help text; :data:`IsoDate` and :data:`IsoDateTime` are strings
holding ISO dates (how JSON stores them) documented as ``format: date`` / ``date-time``. Field help
can also come from the TypedDict's docstring: lines of the form ``name: text`` (an "Attributes"
list) document that key.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints

from rest_framework import serializers


class _Format(str):
    """The marker of a string annotated with an OpenAPI format."""


DATE = _Format("date")
DATE_TIME = _Format("date-time")
IsoDate = Annotated[str, DATE]  # "YYYY-MM-DD"
IsoDateTime = Annotated[str, DATE_TIME]  # ISO 8601 with offset

_CACHE: dict[type, type[serializers.Serializer]] = {}
_NAMES: dict[str, type] = {}


def is_typed_dict(annotation: object) -> bool:
    return isinstance(annotation, type) and typing.is_typeddict(annotation)


def _docstring_help(td: type) -> dict[str, str]:
    """``{key: text}`` from docstring lines ``key: text`` (continuation lines indented further)."""
    helps: dict[str, str] = {}
    current: str | None = None
    for raw in (td.__doc__ or "").splitlines():
        line = raw.strip()
        head, sep, tail = line.partition(":")
        if sep and head and head.replace("_", "").isalnum() and " " not in head and tail.startswith(" "):
            current = head
            helps[current] = tail.strip()
        elif current and line and raw.startswith(" " * 8):
            helps[current] += " " + line
        else:
            current = None
    return helps


def _unwrap(annotation: Any) -> tuple[Any, bool, bool, str]:
    """(inner annotation, nullable, required, help) with ``Annotated``/``NotRequired``/``None`` removed;
    an ISO date string comes back as ``datetime.date`` (``datetime.datetime``)."""
    nullable, required, help_text = False, True, ""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extras = get_args(annotation)
            if any(e is DATE or e is DATE_TIME for e in extras):
                annotation = dt.date if any(e is DATE for e in extras) else dt.datetime
            help_text = next((e for e in extras if isinstance(e, str) and not isinstance(e, _Format)), help_text)
        elif origin is NotRequired:
            annotation, required = get_args(annotation)[0], False
        elif origin is Required:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            nullable = nullable or len(members) < len(get_args(annotation))
            if len(members) != 1:
                return Any, nullable, required, help_text
            annotation = members[0]
        else:
            return annotation, nullable, required, help_text


def _field(annotation: Any, **options: Any) -> serializers.Field:
    """The DRF field for one annotation (``options``: required, allow_null, help_text)."""
    inner, nullable, _, help_text = _unwrap(annotation)
    if nullable:
        options["allow_null"] = True
    if help_text and "help_text" not in options:
        options["help_text"] = help_text
    origin = get_origin(inner)
    if is_typed_dict(inner):
        return typed_dict_serializer(inner)(**options)
    if origin in (list, tuple, typing.Sequence) or inner in (list, tuple):
        args = [a for a in get_args(inner) if a is not Ellipsis]
        child_annotation = args[0] if args else Any
        child_inner, child_nullable, _, _ = _unwrap(child_annotation)
        if is_typed_dict(child_inner) and not child_nullable:
            return typed_dict_serializer(child_inner)(many=True, **options)
        return serializers.ListField(child=_field(child_annotation), **options)
    if origin in (dict, Mapping) or inner is dict:
        args = get_args(inner)
        return serializers.DictField(child=_field(args[1] if len(args) == 2 else Any), **options)
    if origin is Literal:
        choices = list(get_args(inner))
        return serializers.ChoiceField(choices=choices, **options)
    if inner is bool:
        return serializers.BooleanField(**options)
    if inner is int:
        return serializers.IntegerField(**options)
    if inner is float:
        return serializers.FloatField(**options)
    if inner is str:
        return serializers.CharField(allow_blank=True, trim_whitespace=False, **options)
    if inner is dt.datetime:
        return serializers.DateTimeField(**options)
    if inner is dt.date:
        return serializers.DateField(**options)
    if inner is uuid.UUID:
        return serializers.UUIDField(**options)
    return serializers.JSONField(**options)


def typed_dict_serializer(td: type) -> type[serializers.Serializer]:
    """The serializer class of a ``TypedDict`` (built once, cached; named after it, so its OpenAPI
    component is ``<TypedDict name>``). Two different TypedDicts with one name are refused: their
    schema components would collide."""
    cached = _CACHE.get(td)
    if cached is not None:
        return cached
    if not is_typed_dict(td):
        raise TypeError(f"{td!r} is not a TypedDict")
    known = _NAMES.setdefault(td.__name__, td)
    if known is not td:
        raise ValueError(f"two TypedDicts named {td.__name__} ({known.__module__} and {td.__module__})")
    hints = get_type_hints(td, include_extras=True)
    helps = _docstring_help(td)
    fields: dict[str, Any] = {}
    for name, annotation in hints.items():
        _, _, required, _ = _unwrap(annotation)
        options: dict[str, Any] = {"required": required and name in getattr(td, "__required_keys__", hints)}
        if name in helps:
            options["help_text"] = helps[name]
        fields[name] = _field(annotation, **options)
    doc = (td.__doc__ or "").strip().split("\n\n")[0]
    serializer = type(td.__name__, (serializers.Serializer,), {**fields, "__doc__": doc, "__module__": td.__module__})
    _CACHE[td] = serializer
    return serializer


def typed_dict_errors(td: type, value: object, path: str = "") -> list[str]:
    """Where ``value`` departs from ``td``: missing or undeclared keys and wrongly typed values, as
    ``path: problem`` lines (empty when it conforms). Stricter than the serializer, which ignores keys
    it does not know and turns numbers into strings: a payload key that is not declared is an error."""
    return _check(td, value, path or td.__name__)


def _check(annotation: Any, value: object, path: str) -> list[str]:
    inner, nullable, _, _ = _unwrap(annotation)
    if value is None:
        return [] if nullable or inner is Any else [f"{path}: null where {_name(inner)} is declared"]
    origin = get_origin(inner)
    if is_typed_dict(inner):
        if not isinstance(value, Mapping):
            return [f"{path}: {type(value).__name__} where {inner.__name__} is declared"]
        hints = get_type_hints(inner, include_extras=True)
        required = getattr(inner, "__required_keys__", frozenset(hints))
        problems = [
            f"{path}.{key}: missing"
            for key, hint in hints.items()
            if key in required and _unwrap(hint)[2] and key not in value  # NotRequired[...] may be absent
        ]
        problems += [f"{path}.{key}: not declared in {inner.__name__}" for key in value if key not in hints]
        for key, item in value.items():
            if key in hints:
                problems += _check(hints[key], item, f"{path}.{key}")
        return problems
    if origin in (list, tuple, typing.Sequence) or inner in (list, tuple):
        if not isinstance(value, list | tuple):
            return [f"{path}: {type(value).__name__} where a list is declared"]
        args = [a for a in get_args(inner) if a is not Ellipsis]
        child = args[0] if args else Any
        return [problem for k, item in enumerate(value) for problem in _check(child, item, f"{path}[{k}]")]
    if origin in (dict, Mapping) or inner is dict:
        if not isinstance(value, Mapping):
            return [f"{path}: {type(value).__name__} where a mapping is declared"]
        args = get_args(inner)
        child = args[1] if len(args) == 2 else Any
        return [problem for key, item in value.items() for problem in _check(child, item, f"{path}[{key!r}]")]
    if origin is Literal:
        return [] if value in get_args(inner) else [f"{path}: {value!r} is not one of {get_args(inner)}"]
    expected: tuple[type, ...] | None = {
        bool: (bool,),
        int: (int,),
        float: (int, float),
        str: (str,),
        dt.date: (dt.date, str),
        dt.datetime: (dt.datetime, str),
        uuid.UUID: (uuid.UUID, str),
    }.get(inner)
    if expected is None:
        return []
    if isinstance(value, bool) and inner is not bool:
        return [f"{path}: a boolean where {_name(inner)} is declared"]
    return [] if isinstance(value, expected) else [f"{path}: {type(value).__name__} where {_name(inner)} is declared"]


def _name(annotation: Any) -> str:
    return getattr(annotation, "__name__", str(annotation))
