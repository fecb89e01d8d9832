"""The agent's read-only tools; importing this package registers them all (see ``registry``).

``portfolio_tools`` and ``market_tools`` register tools of their own; ``result_tools`` makes one
``get_<kind>`` tool per registered result kind (declared in ``analytics.results.<kind>``).
"""

from __future__ import annotations

from agent.tools import market_tools, portfolio_tools, result_tools, whatif_tools
from agent.tools.registry import REGISTRY, Tool, ToolContext, tool_execute, tools_all

__all__ = [
    "REGISTRY",
    "Tool",
    "ToolContext",
    "market_tools",
    "portfolio_tools",
    "result_tools",
    "tool_execute",
    "tools_all",
    "whatif_tools",
]
