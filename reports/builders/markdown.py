"""The Markdown report: the formatted sections as headings, fact lists and tables.

Every value that comes from data (names, symbols, tags, table cells, facts, notes) goes through
:func:`md_text`: ``<``, ``>`` and ``&`` become HTML entities (no raw HTML or ``<script>`` reaches a
renderer), the characters that make Markdown links, images, emphasis, code and tables are
backslash-escaped, and line breaks become spaces (a value never starts a new block). The text
reads the same once rendered.
"""

from __future__ import annotations

from typing import Any

from reports.builders.present import SectionView, Table, report_sections_present

_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_BACKSLASHED = frozenset("\\`*_[]|~")


def md_text(value: object) -> str:
    """``value`` as inert Markdown text: entities for < > &, backslashes for \\ ` * _ [ ] | ~, no line breaks."""
    out: list[str] = []
    for char in str(value):
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char in _BACKSLASHED:
            out.append("\\" + char)
        elif char in "\r\n\u2028\u2029":
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _escape(cell: str) -> str:
    return md_text(cell)


def _looks_numeric(cell: str) -> bool:
    return bool(cell) and (cell[0].isdigit() or (cell[0] in "$-" and cell[1:2].isdigit()) or cell[:2] == "-$")


def _table(table: Table) -> list[str]:
    lines = [f"**{table.title}**", ""] if table.title else []
    lines.append("| " + " | ".join(table.headers) + " |")
    first = table.rows[0] if table.rows else []
    numeric = [index > 0 and _looks_numeric(str(cell)) for index, cell in enumerate(first)]
    lines.append("|" + "|".join("---:" if right else "---" for right in numeric or [False]) + "|")
    for index, row in enumerate(table.rows):
        cells = [_escape(str(c)) for c in row]
        if index in table.highlight:
            cells = [f"**{c}**" for c in cells]
            cells[0] += " ◀ worst"
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _section(view: SectionView) -> list[str]:
    lines = [f"## {view.title}", ""]
    if not view.computed:
        lines += [f"**{md_text(view.message)}** Compute it with `{view.command}`.", ""]
    else:
        lines += [f"_{view.provenance_line}_", ""]
        if view.stale:
            lines += [f"> ⚠ {md_text(view.stale)}", ""]
    if view.note:
        lines += [md_text(view.note), ""]
    if view.facts:
        lines += [f"- **{md_text(label)}:** {md_text(value)}" for label, value in view.facts] + [""]
    for table in view.tables:
        lines += _table(table)
    return lines


def render_markdown(document: dict[str, Any]) -> str:
    portfolio = document["portfolio"]
    lines = [
        f"# Portfolio report — {md_text(portfolio['name'])}",
        "",
        f"> **Data source: {document['data_source_label']}**",
        "",
        f"- **As of:** {document['as_of']}",
        f"- **Portfolio id:** {portfolio['id']}",
        f"- **Owner:** {md_text(portfolio['owner'])}",
        f"- **Generated at:** {document['generated_at']}",
    ]
    if document["missing_sections"]:
        lines.append("- **Not computed:** " + ", ".join(document["missing_sections"]))
    if document["stale_sections"]:
        lines.append("- **Computed on stale prices:** " + ", ".join(document["stale_sections"]))
    lines.append("")
    for view in report_sections_present(document):
        lines += _section(view)
    lines.append("All numbers are read from the stored analytics; the JSON report carries them unrounded.")
    return "\n".join(lines) + "\n"
