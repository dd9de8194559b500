"""Unit tests of the TinyBase Python SDK (stdlib unittest).

Run from pkg/sdk/python:  python3 -m unittest discover -s tests
"""

import asyncio
import contextlib
import dataclasses
import enum
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import typing
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_DIR = os.path.dirname(HERE)
if SDK_DIR not in sys.path:
    sys.path.insert(0, SDK_DIR)

from tinybase_sdk import Client, TinyBaseError, ValidationError, register  # noqa: E402
from tinybase_sdk import registry  # noqa: E402
from tinybase_sdk.cli import one_shot, serve  # noqa: E402
from tinybase_sdk.runtime import Plan, execute, metadata  # noqa: E402
from tinybase_sdk.schema import convert, json_schema, to_jsonable  # noqa: E402

try:
    import pydantic
except ImportError:  # pragma: no cover
    pydantic = None

try:
    from typing import TypedDict
except ImportError:  # pragma: no cover
    TypedDict = None


@dataclasses.dataclass
class Address:
    city: str
    zip: typing.Optional[str] = None


@dataclasses.dataclass
class Person:
    name: str
    age: int
    address: Address
    tags: typing.List[str] = dataclasses.field(default_factory=list)
    nickname: str = "none"


class Movie(TypedDict):
    title: str
    year: int


class MovieExtra(Movie, total=False):
    rating: float


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = SDK_DIR
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def register_fn(func, name="f", **kwargs):
    register(name=name, **kwargs)(func)
    return registry.registered()


class RegisterTests(unittest.TestCase):
    def setUp(self):
        registry.clear()

    def test_register_returns_function_and_records_spec(self):
        def fn(client):
            return 1

        out = register(name="one", description="d", auth="public", tags=["a"])(fn)
        self.assertIs(out, fn)
        spec = registry.registered()
        self.assertEqual((spec.name, spec.description, spec.auth, spec.tags), ("one", "d", "public", ["a"]))

    def test_defaults(self):
        spec = register_fn(lambda client: None, name="x")
        self.assertEqual((spec.auth, spec.tags, spec.description), ("auth", [], None))

    def test_last_registration_wins(self):
        register(name="first")(lambda client: 1)
        register(name="second")(lambda client: 2)
        self.assertEqual(registry.registered().name, "second")

    def test_invalid_values(self):
        cases = [
            ({"name": "x", "auth": "root"}, "'root'"),
            ({"name": "x", "auth": "Public"}, "'Public'"),
            ({"name": ""}, "non-empty"),
            ({"name": "x", "tags": "a"}, "list of strings"),
            ({"name": "x", "tags": [1]}, "strings"),
        ]
        for kwargs, fragment in cases:
            with self.subTest(kwargs=kwargs):
                with self.assertRaises(ValueError) as ctx:
                    register(**kwargs)
                self.assertIn(fragment, str(ctx.exception))


class SchemaTests(unittest.TestCase):
    def test_plain_types(self):
        cases = [
            (str, {"type": "string"}),
            (int, {"type": "integer"}),
            (float, {"type": "number"}),
            (bool, {"type": "boolean"}),
            (dict, {"type": "object"}),
            (list, {"type": "array"}),
            (typing.List[int], {"type": "array", "items": {"type": "integer"}}),
            (typing.Dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
            (typing.Optional[str], {"anyOf": [{"type": "string"}, {"type": "null"}]}),
            (typing.Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
            (typing.Literal["a", "b"], {"enum": ["a", "b"]}),
            (typing.Any, {}),
            (Color, {"title": "Color", "enum": ["red", "blue"]}),
        ]
        if sys.version_info >= (3, 9):
            cases.append((list[str], {"type": "array", "items": {"type": "string"}}))
            cases.append((dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}))
        for tp, want in cases:
            with self.subTest(tp=tp):
                self.assertEqual(json_schema(tp), want)

    def test_dataclass(self):
        schema = json_schema(Person)
        self.assertEqual(schema["type"], "object")
        self.assertEqual(schema["required"], ["name", "age", "address"])
        self.assertEqual(schema["properties"]["age"], {"type": "integer"})
        self.assertEqual(schema["properties"]["nickname"], {"type": "string", "default": "none"})
        self.assertEqual(schema["properties"]["address"]["required"], ["city"])
        self.assertEqual(schema["properties"]["tags"], {"type": "array", "items": {"type": "string"}})

    def test_typeddict(self):
        schema = json_schema(MovieExtra)
        self.assertEqual(sorted(schema["required"]), ["title", "year"])
        self.assertEqual(schema["properties"]["rating"], {"type": "number"})

    @unittest.skipIf(pydantic is None, "pydantic not installed")
    def test_pydantic(self):
        class Item(pydantic.BaseModel):
            name: str
            qty: int = 1

        schema = json_schema(Item)
        self.assertEqual(schema, Item.model_json_schema())
        self.assertEqual(schema["required"], ["name"])

    def test_function_schemas(self):
        def typed(client, payload: Person) -> Address:
            pass

        def keywords(client, x: int, y: int = 2):
            pass

        def bare(client, payload):
            pass

        def no_payload(client) -> typing.List[int]:
            pass

        plan = Plan(typed)
        self.assertEqual(plan.mode, "payload")
        self.assertEqual(plan.input_schema()["title"], "Person")
        self.assertEqual(plan.output_schema()["title"], "Address")

        plan = Plan(keywords)
        self.assertEqual(plan.mode, "kwargs")
        self.assertEqual(
            plan.input_schema(),
            {
                "type": "object",
                "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 2}},
                "required": ["x"],
            },
        )
        self.assertIsNone(plan.output_schema())

        self.assertIsNone(Plan(bare).input_schema())
        self.assertIsNone(Plan(no_payload).input_schema())
        self.assertEqual(Plan(no_payload).output_schema(), {"type": "array", "items": {"type": "integer"}})

    def test_metadata_document(self):
        registry.clear()

        def add(client, x: int, y: int) -> int:
            return x + y

        spec = register_fn(add, name="add_numbers", description="Add", auth="public", tags=["math"])
        doc = metadata(spec)
        self.assertEqual(
            set(doc), {"name", "description", "auth", "tags", "input_schema", "output_schema"}
        )
        self.assertEqual(doc["output_schema"], {"type": "integer"})
        self.assertEqual(doc["input_schema"]["required"], ["x", "y"])
        json.dumps(doc)


class ValidationTests(unittest.TestCase):
    def assert_invalid(self, value, tp, fragment):
        with self.assertRaises(ValidationError) as ctx:
            convert(value, tp)
        self.assertIn(fragment, str(ctx.exception))

    def test_errors_name_the_field(self):
        good = {"name": "Ada", "age": 36, "address": {"city": "London"}}
        cases = [
            ({"age": 1, "address": {"city": "x"}}, Person, "Field 'name' is required"),
            (dict(good, age="old"), Person, "Field 'age' must be an integer, got string"),
            (dict(good, age=True), Person, "Field 'age' must be an integer, got boolean"),
            (dict(good, address={}), Person, "Field 'address.city' is required"),
            (dict(good, tags=["a", 2]), Person, "Field 'tags[1]' must be a string, got integer"),
            (dict(good, name=None), Person, "Field 'name' must be a string, got null"),
            ([], Person, "Payload must be an object, got array"),
            ({"title": "x"}, Movie, "Field 'year' is required"),
            ("x", int, "Payload must be an integer, got string"),
            ({"a": "x"}, typing.Dict[str, int], "Field 'a' must be an integer"),
            ("green", Color, "must be one of"),
            ("c", typing.Literal["a", "b"], "must be one of"),
        ]
        for value, tp, fragment in cases:
            with self.subTest(value=value, tp=tp):
                self.assert_invalid(value, tp, fragment)

    def test_conversion(self):
        person = convert({"name": "Ada", "age": 36.0, "address": {"city": "London"}, "extra": 1}, Person)
        self.assertIsInstance(person, Person)
        self.assertIsInstance(person.address, Address)
        self.assertEqual((person.age, person.nickname, person.tags), (36, "none", []))
        self.assertEqual(convert({"title": "T", "year": 1999, "x": 1}, Movie), {"title": "T", "year": 1999})
        self.assertIsNone(convert(None, typing.Optional[int]))
        self.assertEqual(convert(3, float), 3.0)
        self.assertIs(convert("red", Color), Color.RED)
        self.assertEqual(convert([1, 2], typing.List[int]), [1, 2])

    @unittest.skipIf(pydantic is None, "pydantic not installed")
    def test_pydantic(self):
        class Item(pydantic.BaseModel):
            name: str

        self.assertEqual(convert({"name": "x"}, Item).name, "x")
        with self.assertRaises(Exception) as ctx:
            convert({}, Item)
        self.assertEqual(type(ctx.exception).__name__, "ValidationError")
        self.assertIn("name", str(ctx.exception))

    def test_to_jsonable(self):
        self.assertEqual(
            to_jsonable(Person("Ada", 36, Address("London"))),
            {"name": "Ada", "age": 36, "address": {"city": "London", "zip": None}, "tags": [], "nickname": "none"},
        )
        self.assertEqual(to_jsonable({"c": Color.BLUE, 1: (1, 2)}), {"c": "blue", "1": [1, 2]})
        with self.assertRaises(TypeError):
            to_jsonable(object())
        if pydantic is not None:

            class Out(pydantic.BaseModel):
                total: int

            self.assertEqual(to_jsonable(Out(total=3)), {"total": 3})


class ExecuteTests(unittest.TestCase):
    def setUp(self):
        registry.clear()

    def run_fn(self, func, payload, context=None):
        spec = register_fn(func)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            response = execute(spec, context or {}, payload)
        return response, stderr.getvalue()

    def test_calling_styles(self):
        def typed(client, payload: Address) -> Address:
            return Address(city=payload.city.upper())

        def add_numbers(client, x: int, y: int) -> int:
            return x + y

        def kw_only(client, *, name: str = "World"):
            return "Hello, %s!" % name

        def var_kw(client, **kwargs):
            return sorted(kwargs)

        def only_client(client):
            return client.context.request_id

        async def coroutine(client, payload: dict):
            await asyncio.sleep(0)
            return payload

        def lone_scalar(client, seconds: float = 5.0):
            return seconds

        cases = [
            (typed, {"city": "paris"}, {"city": "PARIS", "zip": None}),
            (add_numbers, {"x": 1, "y": 2}, 3),
            (kw_only, {}, "Hello, World!"),
            (var_kw, {"b": 1, "a": 2}, ["a", "b"]),
            (only_client, {"ignored": True}, "req-1"),
            (coroutine, {"k": "v"}, {"k": "v"}),
            # A lone parameter that is not an object takes its payload key.
            (lone_scalar, {"seconds": 3}, 3),
            (lone_scalar, {}, 5.0),
        ]
        for func, payload, want in cases:
            with self.subTest(func=func.__name__):
                response, _ = self.run_fn(func, payload, {"request_id": "req-1"})
                self.assertEqual(response, {"status": "succeeded", "result": want})

    def test_failures(self):
        def add_numbers(client, x: int, y: int) -> int:
            return x + y

        def boom(client, payload):
            raise KeyError("missing")

        def unserialisable(client, payload):
            return object()

        def exits(client, payload):
            sys.exit(3)

        cases = [
            (add_numbers, {"x": 1}, "ValidationError", "Field 'y' is required"),
            (add_numbers, {"x": 1, "y": "2"}, "ValidationError", "Field 'y' must be an integer, got string"),
            (add_numbers, [1, 2], "ValidationError", "Payload must be an object, got array"),
            (boom, {}, "KeyError", "'missing'"),
            (unserialisable, {}, "TypeError", "not JSON serializable"),
            (exits, {}, "SystemExit", "3"),
        ]
        for func, payload, error_type, message in cases:
            with self.subTest(func=func.__name__, payload=payload):
                response, stderr = self.run_fn(func, payload)
                self.assertEqual(response["status"], "failed")
                self.assertEqual(response["error_type"], error_type)
                self.assertIn(message, response["error"])
                if error_type != "ValidationError":
                    self.assertIn("Traceback", stderr)

    def test_print_goes_to_stderr(self):
        def noisy(client, payload):
            print("hello from user code")
            return "ok"

        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            response, stderr = self.run_fn(noisy, {})
        self.assertEqual(response["result"], "ok")
        self.assertIn("hello from user code", stderr)
        self.assertEqual(stdout.getvalue(), "")


class ProtocolTests(unittest.TestCase):
    def setUp(self):
        registry.clear()

        def echo(client, payload: dict) -> dict:
            print("noise")
            return {"payload": payload, "user": client.context.user_id}

        self.spec = register_fn(echo, name="echo")

    def test_serve_loop(self):
        requests = [
            {"id": "1", "context": {"user_id": "u1"}, "payload": {"a": 1}},
            {"id": "2", "payload": None},
        ]
        data = "".join(json.dumps(r) + "\n" for r in requests) + "\n" + "not json\n"
        out = io.StringIO()
        with contextlib.redirect_stderr(io.StringIO()):
            serve(self.spec, io.BytesIO(data.encode()), out)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual(lines[0], {"ready": True, "protocol": 1})
        self.assertEqual(lines[1], {"id": "1", "status": "succeeded", "result": {"payload": {"a": 1}, "user": "u1"}})
        self.assertEqual(lines[2], {"id": "2", "status": "succeeded", "result": {"payload": {}, "user": None}})
        self.assertEqual((lines[3]["id"], lines[3]["status"], lines[3]["error_type"]), (None, "failed", "JSONDecodeError"))
        self.assertEqual(len(lines), 4)

    def test_one_shot(self):
        cases = [
            (b'{"context": {}, "payload": {"x": 1}}', {"status": "succeeded", "result": {"payload": {"x": 1}, "user": None}}),
            (b"", {"status": "succeeded", "result": {"payload": {}, "user": None}}),
            (b"[1]", None),
        ]
        for data, want in cases:
            with self.subTest(data=data):
                out = io.StringIO()
                with contextlib.redirect_stderr(io.StringIO()):
                    one_shot(self.spec, io.BytesIO(data), out)
                got = json.loads(out.getvalue())
                if want is None:
                    self.assertEqual((got["status"], got["error_type"]), ("failed", "JSONDecodeError"))
                else:
                    self.assertEqual(got, want)


FUNCTION_FILE = textwrap.dedent(
    '''
    import subprocess
    import sys

    from tinybase_sdk import register
    from tinybase_sdk.cli import run


    @register(name="add_numbers", description="Add two numbers", auth="auth", tags=["math"])
    def add_numbers(client, x: int, y: int) -> int:
        print("adding", x, y)
        subprocess.run(["echo", "child output"], check=True)
        sys.stdout.write("direct write\\n")
        if x < 0:
            input()
        return x + y


    if __name__ == "__main__":
        run()
    '''
)


class SubprocessTests(unittest.TestCase):
    """Runs function files the way the runner does."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, "add_numbers.py")
        with open(cls.path, "w") as f:
            f.write(FUNCTION_FILE)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_file(self, args, stdin=b"", path=None):
        return subprocess.run(
            [sys.executable, path or self.path] + args,
            input=stdin,
            capture_output=True,
            env=subprocess_env(),
            timeout=60,
        )

    def test_metadata(self):
        proc = self.run_file(["--metadata"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        self.assertEqual(doc["name"], "add_numbers")
        self.assertEqual(doc["input_schema"]["required"], ["x", "y"])
        self.assertEqual(doc["output_schema"], {"type": "integer"})

    def test_one_shot_keeps_stdout_clean(self):
        proc = self.run_file([], b'{"context": {}, "payload": {"x": 1, "y": 2}}')
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout), {"status": "succeeded", "result": 3})
        for text in (b"adding 1 2", b"child output", b"direct write"):
            self.assertIn(text, proc.stderr)

    def test_serve(self):
        proc = subprocess.Popen(
            [sys.executable, self.path, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=subprocess_env(),
        )
        try:
            self.assertEqual(json.loads(proc.stdout.readline()), {"ready": True, "protocol": 1})
            calls = [
                ({"x": 1, "y": 2}, {"status": "succeeded", "result": 3}),
                # input() must see EOF instead of swallowing the next request.
                ({"x": -1, "y": 1}, {"status": "failed", "error_type": "EOFError"}),
                ({"x": 2}, {"status": "failed", "error_type": "ValidationError"}),
                ({"x": 40, "y": 2}, {"status": "succeeded", "result": 42}),
            ]
            for i, (payload, want) in enumerate(calls):
                request = {"id": "call-%d" % i, "context": {}, "payload": payload}
                proc.stdin.write((json.dumps(request) + "\n").encode())
                proc.stdin.flush()
                got = json.loads(proc.stdout.readline())
                self.assertEqual(got["id"], "call-%d" % i)
                for key, value in want.items():
                    self.assertEqual(got[key], value, got)
            proc.stdin.close()
            self.assertEqual(proc.wait(timeout=30), 0)
            self.assertEqual(proc.stdout.read(), b"")
            self.assertIn(b"child output", proc.stderr.read())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_usage_and_missing_registration(self):
        proc = self.run_file(["--bogus"])
        self.assertEqual(proc.returncode, 2)
        empty = os.path.join(self.tmp.name, "empty.py")
        with open(empty, "w") as f:
            f.write("from tinybase_sdk.cli import run\nrun()\n")
        proc = self.run_file(["--metadata"], path=empty)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("No function registered", json.loads(proc.stderr)["error"])
        self.assertEqual(proc.stdout, b"")

    def test_hello_template(self):
        hello = os.path.join(SDK_DIR, "templates", "hello.py")
        proc = self.run_file([], b'{"payload": {"name": "Ada"}}', path=hello)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout), {"status": "succeeded", "result": {"message": "Hello, Ada!"}})
        proc = self.run_file(["--metadata"], path=hello)
        doc = json.loads(proc.stdout)
        self.assertEqual((doc["name"], doc["auth"]), ("hello", "public"))


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "body": json.loads(body) if body else None,
            }
        )
        if self.path.startswith("/api/missing"):
            status, payload = 404, {"detail": "Not found"}
        elif self.path.startswith("/api/text-error"):
            status, payload = 500, None
        elif self.command == "DELETE":
            status, payload = 204, None
        else:
            status, payload = 200, {"ok": True}
        data = b"Internal Server Error" if status == 500 else (json.dumps(payload).encode() if payload else b"")
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer


class ClientTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = HTTPServer(("127.0.0.1", 0), _Handler)
        cls.server.seen = []
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.base = "http://127.0.0.1:%d/api" % cls.server.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        self.server.seen.clear()
        self.client = Client(self.base, "tok")

    def test_requests(self):
        cases = [
            (lambda c: c.get("health"), "GET", "/api/health", None),
            (lambda c: c.list_records("notes", limit=5, sort_order="asc"), "GET",
             "/api/collections/notes/records?limit=5&sort_order=asc", None),
            (lambda c: c.create_record("notes", {"title": "x"}), "POST", "/api/collections/notes/records",
             {"data": {"title": "x"}}),
            (lambda c: c.update_record("notes", "id 1", {"t": 1}), "PATCH", "/api/collections/notes/records/id%201",
             {"data": {"t": 1}}),
            (lambda c: c.call_function("add_numbers", {"x": 1}), "POST", "/api/functions/add_numbers", {"x": 1}),
            (lambda c: c.call_function("hello"), "POST", "/api/functions/hello", {}),
        ]
        for do, method, path, body in cases:
            with self.subTest(path=path):
                self.server.seen.clear()
                self.assertEqual(do(self.client), {"ok": True})
                seen = self.server.seen[0]
                self.assertEqual((seen["method"], seen["path"], seen["body"]), (method, path, body))
                self.assertEqual(seen["auth"], "Bearer tok")
        self.assertIsNone(self.client.delete_record("notes", "1"))

    def test_errors(self):
        with self.assertRaises(TinyBaseError) as ctx:
            self.client.get("missing")
        self.assertEqual((ctx.exception.status, ctx.exception.detail), (404, "Not found"))
        self.assertEqual(str(ctx.exception), "HTTP 404: Not found")
        with self.assertRaises(TinyBaseError) as ctx:
            self.client.get("text-error")
        self.assertEqual((ctx.exception.status, ctx.exception.detail), (500, "Internal Server Error"))
        with self.assertRaises(TinyBaseError) as ctx:
            Client("").get("x")
        self.assertEqual(ctx.exception.status, 0)

    def test_no_token(self):
        Client(self.base).get("health")
        self.assertIsNone(self.server.seen[0]["auth"])


if __name__ == "__main__":
    unittest.main()
