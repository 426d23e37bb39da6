"""Backend adapters. Adding a backend means adding one module here and its transcript fixtures."""

from __future__ import annotations

from orintui.backends import (
    llama_bench,
    llama_cli,
    llama_completion,
    openai_endpoint,
    tinygrad_gpt2,
    tinygrad_llama3,
    tinygrad_llm,
)
from orintui.backends.base import Adapter, Parser

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        tinygrad_llm.ADAPTER,
        tinygrad_gpt2.ADAPTER,
        tinygrad_llama3.ADAPTER,
        llama_completion.ADAPTER,
        llama_cli.ADAPTER,
        llama_bench.ADAPTER,
        openai_endpoint.ADAPTER,
    )
}


def get_adapter(name: str) -> Adapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r} (known: {', '.join(sorted(ADAPTERS))})") from None


__all__ = ["ADAPTERS", "Adapter", "Parser", "get_adapter"]
