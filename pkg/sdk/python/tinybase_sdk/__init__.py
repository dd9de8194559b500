"""TinyBase function SDK.

A function is one Python file that registers a single callable with
``@register(...)`` and ends with ``if __name__ == "__main__": run()``.
The SDK is stdlib-only so a function without dependencies starts fast and
needs no virtual environment.

Example::

    from dataclasses import dataclass

    from tinybase_sdk import register
    from tinybase_sdk.cli import run


    @dataclass
    class HelloInput:
        name: str = "World"


    @register(name="hello", description="Say hello", auth="public")
    def hello(client, payload: HelloInput) -> dict:
        return {"message": f"Hello, {payload.name}!"}


    if __name__ == "__main__":
        run()
"""

from .client import Client, TinyBaseError
from .context import Context
from .registry import AUTH_LEVELS, FunctionSpec, register
from .schema import ValidationError

__version__ = "0.1.0"

#: Version of the function protocol spoken by ``run()``.
PROTOCOL_VERSION = 1

__all__ = [
    "AUTH_LEVELS",
    "Client",
    "Context",
    "FunctionSpec",
    "PROTOCOL_VERSION",
    "TinyBaseError",
    "ValidationError",
    "register",
]
