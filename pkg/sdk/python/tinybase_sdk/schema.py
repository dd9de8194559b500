"""Type hints to JSON Schema, payload validation and result serialisation.

Supported hints: ``str``, ``int``, ``float``, ``bool``, ``None``, ``dict``,
``list``, ``list[T]``, ``tuple[...]``, ``set[T]``, ``dict[K, V]``,
``Optional[T]``/``Union[...]``/``T | None``, ``Literal[...]``, ``Any``,
``Annotated[T, ...]``, ``Enum`` subclasses, ``datetime``/``date``/``UUID``,
dataclasses, ``TypedDict`` classes and, when pydantic is already imported by
the function file, pydantic ``BaseModel`` subclasses. Any other class maps to
``{"type": "object"}`` and its values are passed through unchecked.
"""

import collections.abc
import dataclasses
import datetime
import decimal
import enum
import sys
import typing
import uuid

NoneType = type(None)

try:  # Python 3.10+: the X | Y syntax.
    from types import UnionType as _UnionType
except ImportError:  # pragma: no cover - Python 3.9
    _UnionType = None

_Annotated = getattr(typing, "Annotated", None)

_ARRAY_ORIGINS = (
    list,
    tuple,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Set,
    collections.abc.MutableSet,
    collections.abc.Iterable,
    collections.abc.Collection,
)
_OBJECT_ORIGINS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


class ValidationError(ValueError):
    """Raised when a payload does not match the function's input type.

    The message names the offending field, e.g. ``Field 'age' must be an
    integer, got string``.
    """


# --------------------------------------------------------------------------
# Type inspection helpers
# --------------------------------------------------------------------------


def pydantic_model_class():
    """Returns pydantic.BaseModel if the function file imported pydantic.

    Pydantic is never imported by the SDK itself: importing it costs a lot of
    start-up time, and a function whose types are pydantic models has
    necessarily imported it already.
    """
    module = sys.modules.get("pydantic")
    if module is None:
        return None
    return getattr(module, "BaseModel", None)


def is_pydantic_model(tp):
    base = pydantic_model_class()
    return base is not None and isinstance(tp, type) and issubclass(tp, base) and tp is not base


def is_typeddict(tp):
    return (
        isinstance(tp, type)
        and issubclass(tp, dict)
        and hasattr(tp, "__total__")
        and hasattr(tp, "__annotations__")
    )


def is_dataclass_type(tp):
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _is_union(origin):
    return origin is typing.Union or (_UnionType is not None and origin is _UnionType)


def type_hints(obj):
    """Resolves annotations (including string ones) of a class or callable.

    Unresolvable forward references fall back to the raw annotations with
    strings replaced by ``Any``, so one odd hint does not break describing.
    """
    try:
        return typing.get_type_hints(obj)
    except Exception:
        raw = getattr(obj, "__annotations__", {}) or {}
        return {k: (typing.Any if isinstance(v, str) else v) for k, v in raw.items()}


def _class_fields(tp):
    """Yields (name, hint, required, default) for a dataclass or TypedDict."""
    hints = type_hints(tp)
    if is_dataclass_type(tp):
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
            yield f.name, hints.get(f.name, typing.Any), required, default
        return
    required_keys = getattr(tp, "__required_keys__", None)
    if required_keys is None:  # pragma: no cover - very old typing_extensions
        required_keys = set(hints) if getattr(tp, "__total__", True) else set()
    for name, hint in hints.items():
        yield name, hint, name in required_keys, dataclasses.MISSING


# --------------------------------------------------------------------------
# JSON Schema
# --------------------------------------------------------------------------


def json_schema(tp, _seen=None):
    """Returns the JSON Schema (a dict) describing values of type ``tp``."""
    if _seen is None:
        _seen = set()
    if tp is typing.Any or tp is object:
        return {}
    if tp is None or tp is NoneType:
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp is dict:
        return {"type": "object"}
    if tp in (list, tuple, set, frozenset):
        return {"type": "array"}
    if tp is datetime.datetime:
        return {"type": "string", "format": "date-time"}
    if tp is datetime.date:
        return {"type": "string", "format": "date"}
    if tp is uuid.UUID:
        return {"type": "string", "format": "uuid"}
    if tp is decimal.Decimal:
        return {"type": "string", "format": "decimal"}

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if _Annotated is not None and origin is _Annotated:
        return json_schema(args[0], _seen)
    if _is_union(origin):
        schemas = [json_schema(a, _seen) for a in args if a is not NoneType]
        if NoneType in args:
            schemas.append({"type": "null"})
        return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": json_schema(args[0], _seen)}
        if not args:
            return {"type": "array"}
        return {
            "type": "array",
            "prefixItems": [json_schema(a, _seen) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin in _ARRAY_ORIGINS:
        schema = {"type": "array"}
        if args:
            schema["items"] = json_schema(args[0], _seen)
        if origin in (set, frozenset, collections.abc.Set, collections.abc.MutableSet):
            schema["uniqueItems"] = True
        return schema
    if origin in _OBJECT_ORIGINS:
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = json_schema(args[1], _seen)
        return schema

    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"title": tp.__name__, "enum": [_jsonable_default(m.value) for m in tp]}
    if is_pydantic_model(tp):
        return tp.model_json_schema()
    if is_dataclass_type(tp) or is_typeddict(tp):
        if tp in _seen:
            # Self-referencing types are cut off instead of recursing forever.
            return {"type": "object", "title": tp.__name__}
        seen = _seen | {tp}
        properties = {}
        required = []
        for name, hint, is_required, default in _class_fields(tp):
            prop = json_schema(hint, seen)
            if default is not dataclasses.MISSING and _is_simple(default):
                prop = dict(prop, default=default)
            properties[name] = prop
            if is_required:
                required.append(name)
        schema = {"type": "object", "title": tp.__name__, "properties": properties}
        if required:
            schema["required"] = required
        return schema
    return {"type": "object"}


def _is_simple(value):
    return value is None or isinstance(value, (bool, int, float, str))


def _jsonable_default(value):
    return value if _is_simple(value) else str(value)


def params_schema(params, hints):
    """Builds an object schema from keyword-style parameters.

    ``params`` is a list of ``inspect.Parameter``; a parameter without a
    default value is required.
    """
    properties = {}
    required = []
    for p in params:
        prop = json_schema(hints[p.name]) if p.name in hints else {}
        if p.default is not p.empty and _is_simple(p.default):
            prop = dict(prop, default=p.default)
        properties[p.name] = prop
        if p.default is p.empty:
            required.append(p.name)
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


# --------------------------------------------------------------------------
# Validation and conversion
# --------------------------------------------------------------------------

_EXPECTED = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    dict: "an object",
    list: "an array",
    NoneType: "null",
}


def json_type_name(value):
    """Names the JSON type of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def format_loc(loc):
    """Renders a location path such as ``['items', 0, 'name']`` as ``items[0].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += "[%d]" % part
        elif out:
            out += "." + str(part)
        else:
            out = str(part)
    return out


def _type_error(loc, expected, value):
    got = json_type_name(value)
    if loc:
        return ValidationError("Field '%s' must be %s, got %s" % (format_loc(loc), expected, got))
    return ValidationError("Payload must be %s, got %s" % (expected, got))


def _missing_error(loc):
    return ValidationError("Field '%s' is required" % format_loc(loc))


def convert(value, tp, loc=()):
    """Checks ``value`` (decoded JSON) against ``tp`` and converts it.

    Dataclasses and pydantic models become instances; containers are
    converted element by element. Raises ValidationError naming the field.
    """
    loc = list(loc)
    if tp is typing.Any or tp is object:
        return value
    if tp is None or tp is NoneType:
        if value is not None:
            raise _type_error(loc, "null", value)
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise _type_error(loc, "a boolean", value)
        return value
    if tp is int:
        if isinstance(value, bool):
            raise _type_error(loc, "an integer", value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _type_error(loc, "an integer", value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(loc, "a number", value)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _type_error(loc, "a string", value)
        return value
    if tp is dict:
        if not isinstance(value, dict):
            raise _type_error(loc, "an object", value)
        return value
    if tp in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            raise _type_error(loc, "an array", value)
        return tp(value) if tp is not list else value
    if tp in (datetime.datetime, datetime.date):
        return _convert_datetime(value, tp, loc)
    if tp is uuid.UUID:
        if not isinstance(value, str):
            raise _type_error(loc, "a UUID string", value)
        try:
            return uuid.UUID(value)
        except ValueError:
            raise _type_error(loc, "a UUID string", value) from None
    if tp is decimal.Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _type_error(loc, "a decimal number", value)
        try:
            return decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            raise _type_error(loc, "a decimal number", value) from None

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if _Annotated is not None and origin is _Annotated:
        return convert(value, args[0], loc)
    if _is_union(origin):
        return _convert_union(value, args, loc)
    if origin is typing.Literal:
        for allowed in args:
            if value == allowed and type(value) is type(allowed):
                return allowed
        raise ValidationError(
            "%s must be one of %s, got %r"
            % ("Field '%s'" % format_loc(loc) if loc else "Payload", list(args), value)
        )
    if origin is tuple:
        if not isinstance(value, list):
            raise _type_error(loc, "an array", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0], loc + [i]) for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ValidationError(
                "%s must have exactly %d items, got %d"
                % ("Field '%s'" % format_loc(loc) if loc else "Payload", len(args), len(value))
            )
        return tuple(convert(v, a, loc + [i]) for i, (v, a) in enumerate(zip(value, args)))
    if origin in _ARRAY_ORIGINS:
        if not isinstance(value, list):
            raise _type_error(loc, "an array", value)
        item_tp = args[0] if args else typing.Any
        items = [convert(v, item_tp, loc + [i]) for i, v in enumerate(value)]
        if origin in (set, collections.abc.Set, collections.abc.MutableSet):
            return set(items)
        if origin is frozenset:
            return frozenset(items)
        return items
    if origin in _OBJECT_ORIGINS:
        if not isinstance(value, dict):
            raise _type_error(loc, "an object", value)
        if len(args) != 2:
            return value
        return {k: convert(v, args[1], loc + [k]) for k, v in value.items()}

    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = [m.value for m in tp]
            raise ValidationError(
                "%s must be one of %s, got %r"
                % ("Field '%s'" % format_loc(loc) if loc else "Payload", allowed, value)
            ) from None
    if is_pydantic_model(tp):
        # Pydantic's own ValidationError names the fields and keeps its class
        # name, so it is reported as error_type "ValidationError" as well.
        return tp.model_validate(value)
    if is_dataclass_type(tp):
        if not isinstance(value, dict):
            raise _type_error(loc, "an object", value)
        kwargs = {}
        for name, hint, required, _ in _class_fields(tp):
            if name in value:
                kwargs[name] = convert(value[name], hint, loc + [name])
            elif required:
                raise _missing_error(loc + [name])
        return tp(**kwargs)
    if is_typeddict(tp):
        if not isinstance(value, dict):
            raise _type_error(loc, "an object", value)
        out = {}
        for name, hint, required, _ in _class_fields(tp):
            if name in value:
                out[name] = convert(value[name], hint, loc + [name])
            elif required:
                raise _missing_error(loc + [name])
        return out
    return value


def _convert_union(value, args, loc):
    if value is None and NoneType in args:
        return None
    candidates = [a for a in args if a is not NoneType]
    errors = []
    for candidate in candidates:
        try:
            return convert(value, candidate, loc)
        except ValidationError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    where = "Field '%s'" % format_loc(loc) if loc else "Payload"
    raise ValidationError("%s does not match any allowed type: %s" % (where, "; ".join(str(e) for e in errors)))


def _convert_datetime(value, tp, loc):
    expected = "a date-time string" if tp is datetime.datetime else "a date string"
    if not isinstance(value, str):
        raise _type_error(loc, expected, value)
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        if tp is datetime.datetime:
            return datetime.datetime.fromisoformat(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise _type_error(loc, expected, value) from None


# --------------------------------------------------------------------------
# Serialisation of results
# --------------------------------------------------------------------------


def to_jsonable(value):
    """Turns a function's return value into JSON-native Python values.

    Dataclasses become dicts (like ``dataclasses.asdict``), pydantic models
    are dumped with ``model_dump(mode="json")``, enums become their values,
    dates become ISO 8601 strings. Anything else raises TypeError.
    """
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {_key(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return dump(mode="json")
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def _key(key):
    if isinstance(key, str):
        return key
    if isinstance(key, enum.Enum):
        return str(key.value)
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)
