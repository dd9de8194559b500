# /// script
# requires-python = ">=3.9"
# dependencies = []
# ///
"""Example TinyBase function: greets the caller by name.

Call it with POST /api/functions/hello and a body such as {"name": "Ada"}.
"""

from dataclasses import dataclass

from tinybase_sdk import register
from tinybase_sdk.cli import run


@dataclass
class HelloInput:
    name: str = "World"


@dataclass
class HelloOutput:
    message: str


@register(
    name="hello",
    description="Say hello to someone",
    auth="public",
    tags=["example"],
)
def hello(client, payload: HelloInput) -> HelloOutput:
    return HelloOutput(message=f"Hello, {payload.name}!")


if __name__ == "__main__":
    run()
