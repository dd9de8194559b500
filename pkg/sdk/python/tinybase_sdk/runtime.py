"""Calling a registered function: signature analysis, metadata, execution."""

import contextlib
import inspect
import sys
import traceback

from .client import Client
from .context import Context
from .schema import ValidationError, convert, json_schema, json_type_name, params_schema, to_jsonable, type_hints

STATUS_SUCCEEDED = "succeeded"
STATUS_FAILED = "failed"

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _takes_object(hints, param):
    """Whether a lone parameter can receive the whole payload, which is
    always a JSON object: true unless its type hint describes something
    else (``seconds: float``), whose value then comes from the payload key
    of the same name."""
    if param.name not in hints:
        return True
    try:
        schema = json_schema(hints[param.name])
    except Exception:
        return True
    return _object_schema(schema)


def _object_schema(schema):
    if not isinstance(schema, dict) or not schema or "$ref" in schema or "properties" in schema:
        return True
    kind = schema.get("type")
    if kind is None:
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                return any(_object_schema(s) for s in schema[key] if not (isinstance(s, dict) and s.get("type") == "null"))
        return True
    if isinstance(kind, list):
        return "object" in kind
    return kind == "object"


class Plan(object):
    """How a function's parameters map onto a payload.

    Three calling styles are supported:

    * ``fn(client)`` -- mode ``"none"``, the payload is ignored;
    * ``fn(client, payload: T)`` -- mode ``"payload"``, the whole payload is
      validated against ``T`` and passed as the second argument;
    * ``fn(client, x: int, y: int)`` (or keyword-only parameters, or
      ``**kwargs``) -- mode ``"kwargs"``, payload keys become keyword
      arguments.
    """

    __slots__ = ("mode", "takes_client", "input_type", "has_input_type", "params", "hints", "var_kw", "output")

    def __init__(self, func):
        try:
            sig = inspect.signature(func)
        except (TypeError, ValueError):
            sig = None
        hints = type_hints(func)
        self.hints = hints
        self.params = []
        self.var_kw = False
        self.input_type = None
        self.has_input_type = False
        self.takes_client = True
        self.mode = "none"

        params = list(sig.parameters.values()) if sig is not None else []
        if not params or params[0].kind not in _POSITIONAL:
            # fn() or fn(*, ...): no client argument.
            self.takes_client = bool(params) and params[0].kind == inspect.Parameter.VAR_POSITIONAL
            rest = params
        else:
            rest = params[1:]
        positional = [p for p in rest if p.kind in _POSITIONAL]
        keyword_only = [p for p in rest if p.kind == inspect.Parameter.KEYWORD_ONLY]
        self.var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in rest)

        if len(positional) == 1 and not keyword_only and not self.var_kw and _takes_object(hints, positional[0]):
            self.mode = "payload"
            name = positional[0].name
            if name in hints:
                self.input_type = hints[name]
                self.has_input_type = True
        elif positional or keyword_only or self.var_kw:
            self.mode = "kwargs"
            self.params = positional + keyword_only

        self.output = hints.get("return", inspect.Parameter.empty)

    def input_schema(self):
        if self.mode == "payload":
            return json_schema(self.input_type) if self.has_input_type else None
        if self.mode == "kwargs":
            return params_schema(self.params, self.hints)
        return None

    def output_schema(self):
        if self.output is inspect.Parameter.empty:
            return None
        return json_schema(self.output)

    def arguments(self, client, payload):
        """Returns (args, kwargs) for calling the function with ``payload``."""
        args = [client] if self.takes_client else []
        if self.mode == "none":
            return args, {}
        if self.mode == "payload":
            value = convert(payload, self.input_type) if self.has_input_type else payload
            return args + [value], {}
        if not isinstance(payload, dict):
            raise ValidationError("Payload must be an object, got %s" % json_type_name(payload))
        kwargs = {}
        declared = set()
        for p in self.params:
            declared.add(p.name)
            if p.name in payload:
                hint = self.hints.get(p.name)
                kwargs[p.name] = payload[p.name] if hint is None else convert(payload[p.name], hint, [p.name])
            elif p.default is p.empty:
                raise ValidationError("Field '%s' is required" % p.name)
        if self.var_kw:
            for key, value in payload.items():
                if key not in declared:
                    kwargs[key] = value
        return args, kwargs


def metadata(spec):
    """Returns the ``--metadata`` document of a registered function."""
    plan = Plan(spec.func)
    return {
        "name": spec.name,
        "description": spec.description,
        "auth": spec.auth,
        "tags": list(spec.tags),
        "input_schema": plan.input_schema(),
        "output_schema": plan.output_schema(),
    }


def _await(awaitable):
    import asyncio

    async def wrapper():
        return await awaitable

    return asyncio.run(wrapper())


def execute(spec, context, payload, plan=None):
    """Runs the function once and returns the response dict.

    Never raises for errors of the user's code: they become a ``failed``
    response whose ``error_type`` is the exception's class name. While the
    function runs, ``sys.stdout`` points at ``sys.stderr`` so ``print()``
    output never reaches the protocol stream.
    """
    if plan is None:
        plan = Plan(spec.func)
    ctx = context if isinstance(context, Context) else Context.from_dict(context)
    if payload is None:
        payload = {}
    try:
        with contextlib.redirect_stdout(sys.stderr):
            client = Client(ctx.api_base_url, ctx.auth_token)
            client.context = ctx
            args, kwargs = plan.arguments(client, payload)
            result = spec.func(*args, **kwargs)
            if inspect.isawaitable(result):
                result = _await(result)
            result = to_jsonable(result)
        return {"status": STATUS_SUCCEEDED, "result": result}
    except (Exception, SystemExit) as exc:
        if not isinstance(exc, ValidationError):
            traceback.print_exc(file=sys.stderr)
        return failure(exc)
    finally:
        _flush_std()


def failure(exc, error_type=None):
    """Builds a ``failed`` response from an exception."""
    message = str(exc)
    if not message:
        message = type(exc).__name__
    return {"status": STATUS_FAILED, "error": message, "error_type": error_type or type(exc).__name__}


def _flush_std():
    # Flushing stderr before the response is written lets the runner attach
    # everything the call printed to that call's result.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
