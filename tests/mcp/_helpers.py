"""Pieces shared by the MCP transport tests and the MCP benchmarks (importable without pytest)."""

from __future__ import annotations

from typing import Any


def initialize_request(client_name: str) -> dict[str, Any]:
    """The raw JSON-RPC ``initialize`` a client sends first (id 1, no capabilities)."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": "0"},
        },
    }
