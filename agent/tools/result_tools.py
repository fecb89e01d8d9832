"""The agent's tools over the stored results: one ``get_<kind>`` tool per registered result kind.

Each kind declares its tool in its module (``analytics.results.<kind>``: description, arguments, limits
and the view of its payload a model needs); this module turns the declarations into registry tools,
read from the kinds' registry on every listing, so a kind registered later has its tool too. A kind's
earlier tool names (``get_stress_results`` …) are still answered.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from agent.tools.registry import PORTFOLIO_ID_SCHEMA, Tool
from analytics.results import registry
from analytics.results.base import ResultSpec

_BUILT: dict[ResultSpec[Any, Any], Tool] = {}


def result_tool(spec: ResultSpec[Any, Any]) -> Tool:
    """The registry tool of one kind (built once per spec)."""
    tool = _BUILT.get(spec)
    if tool is not None:
        return tool
    assert spec.tool is not None
    parameters = {
        "type": "object",
        "properties": {**spec.tool.properties, "portfolio_id": PORTFOLIO_ID_SCHEMA},
        "required": [],
        "additionalProperties": False,
    }
    Draft202012Validator.check_schema(parameters)
    tool = Tool(spec.tool_name, spec.tool.description, parameters, spec.tool_answer, dict(spec.tool.limits))
    _BUILT[spec] = tool
    return tool


def result_tools() -> dict[str, Tool]:
    """``{tool name: tool}`` of every registered kind that has a tool."""
    return {spec.tool_name: result_tool(spec) for spec in registry.specs() if spec.tool is not None}


def result_tool_aliases() -> dict[str, str]:
    """``{earlier tool name: tool name}``."""
    return {alias: spec.tool_name for spec in registry.specs() if spec.tool is not None for alias in spec.tool.aliases}
