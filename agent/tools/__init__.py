"""The agent's read-only tools; importing this package registers them all (see ``registry``)."""

from __future__ import annotations

from agent.tools import market_tools, portfolio_tools, risk_tools
from agent.tools.registry import REGISTRY, Tool, ToolContext, tool_execute, tools_all

__all__ = [
    "REGISTRY",
    "Tool",
    "ToolContext",
    "market_tools",
    "portfolio_tools",
    "risk_tools",
    "tool_execute",
    "tools_all",
]
