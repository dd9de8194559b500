"""Entry point of a function file: the TinyBase function protocol, version 1.

``run()`` looks at the command line:

* ``--metadata`` prints one JSON object describing the function and exits 0;
* ``--serve`` writes ``{"ready":true,"protocol":1}`` and then answers one
  JSON request line with one JSON response line until stdin is closed;
* no argument reads one JSON document ``{"context":..., "payload":...}``
  from stdin and writes one JSON response document (one-shot mode).

The protocol streams are taken over before any user code runs: file
descriptor 1 is pointed at stderr and descriptor 0 at /dev/null, so neither
``print()``, a child process nor ``input()`` can corrupt or steal protocol
lines. Logs belong on stderr.
"""

import json
import os
import re
import signal
import sys

from . import registry
from .runtime import Plan, execute, failure, metadata

PROTOCOL_VERSION = 1

_USAGE = "usage: %s [--metadata | --serve]  (no argument: one request on stdin)"


def run(argv=None):
    """Runs the registered function according to the command line."""
    args = sys.argv[1:] if argv is None else list(argv)
    spec = registry.registered()
    if spec is None:
        _fatal("No function registered: decorate a function with @register(...)", 1)
    if len(args) > 1 or (args and args[0] not in ("--metadata", "--serve")):
        _fatal(_USAGE % os.path.basename(sys.argv[0] or "function.py"), 2)

    _no_dump()
    proto_in, proto_out = _claim_stdio()
    if args and args[0] == "--metadata":
        try:
            doc = metadata(spec)
            line = _encode(doc)
        except Exception as exc:
            _fatal("Cannot describe function %r: %s: %s" % (spec.name, type(exc).__name__, exc), 1)
        proto_out.write(line + "\n")
        proto_out.flush()
        return
    if args and args[0] == "--serve":
        serve(spec, proto_in, proto_out)
        return
    one_shot(spec, proto_in, proto_out)


def _no_dump():
    """Marks the process non-dumpable on Linux, so other processes of the
    same user (other functions) cannot read its memory, where call tokens
    live."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except Exception:
        pass


def serve(spec, stream_in, stream_out):
    """Answers request lines from ``stream_in`` until it reaches EOF.

    ``stream_in`` yields bytes lines, ``stream_out`` accepts str. Each
    request is ``{"id", "context", "payload"}``; each response carries the
    request's ``id``. A line that is not a JSON object is answered with a
    failed response (``id`` null) so the caller can tell something is wrong.
    """
    plan = Plan(spec.func)
    # A serve process may run as PID 1 of its own namespace, where SIGTERM
    # is ignored unless handled: exit on it so the runner can stop us fast.
    try:
        signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
    except (ValueError, OSError):
        pass
    stream_out.write(_encode({"ready": True, "protocol": PROTOCOL_VERSION}) + "\n")
    stream_out.flush()
    while True:
        raw = stream_in.readline()
        if not raw:
            return
        if not raw.strip():
            continue
        request_id = None
        try:
            request = json.loads(raw)
            if not isinstance(request, dict):
                raise ValueError("request must be a JSON object")
        except ValueError as exc:
            response = failure(exc, "JSONDecodeError")
        except RecursionError:
            # Too deeply nested for Python's parser: answer for the id the
            # runner put first on the line, and keep serving.
            match = _LEADING_ID.match(raw)
            request_id = match.group(1).decode("ascii") if match else None
            response = failure(ValueError("payload is nested too deeply"), "InvalidRequest")
        else:
            request_id = request.get("id")
            response = execute(spec, request.get("context"), request.get("payload"), plan)
        response = dict({"id": request_id}, **response)
        stream_out.write(_encode_response(response) + "\n")
        stream_out.flush()


_LEADING_ID = re.compile(rb'^\s*\{\s*"id"\s*:\s*"([0-9A-Za-z-]{1,64})"')


def one_shot(spec, stream_in, stream_out):
    """Handles the single request document of the one-shot mode."""
    raw = stream_in.read()
    try:
        request = json.loads(raw) if raw.strip() else {}
        if not isinstance(request, dict):
            raise ValueError("input must be a JSON object")
    except ValueError as exc:
        response = failure(exc, "JSONDecodeError")
    else:
        response = execute(spec, request.get("context"), request.get("payload"))
    stream_out.write(_encode_response(response))
    stream_out.flush()


def _encode(doc):
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)


def _encode_response(response):
    """Encodes a response, turning an unencodable result into a failure."""
    try:
        return _encode(response)
    except (TypeError, ValueError) as exc:
        failed = failure(exc)
        if "id" in response:
            failed["id"] = response["id"]
        return _encode(failed)


def _claim_stdio():
    """Moves the protocol streams to private descriptors.

    Returns (binary reader, text writer) for the original stdin and stdout.
    Afterwards descriptor 1 is a copy of stderr and descriptor 0 reads from
    /dev/null, for user code and any child processes it starts.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    in_fd = os.dup(0)
    out_fd = os.dup(1)
    os.dup2(2, 1)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null_fd, 0)
    finally:
        os.close(null_fd)
    proto_in = os.fdopen(in_fd, "rb")
    proto_out = os.fdopen(out_fd, "w", encoding="utf-8", newline="\n")
    return proto_in, proto_out


def _fatal(message, code):
    sys.stderr.write(json.dumps({"error": message}) + "\n")
    sys.stderr.flush()
    sys.exit(code)


__all__ = ["run", "serve", "one_shot", "PROTOCOL_VERSION"]
