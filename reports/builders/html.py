"""The HTML report: the formatted sections plus server-rendered SVG charts, in one self-contained page."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from reports.builders.charts import CHARTS
from reports.builders.present import report_sections_present


def render_html(document: dict[str, Any]) -> str:
    sections = []
    for view in report_sections_present(document):
        chart = None
        if view.computed and view.key in CHARTS:
            svg = CHARTS[view.key](document["sections"][view.key]["payload"])
            # Built by reports.builders.svg, which escapes every piece of text: safe to inline.
            chart = mark_safe(svg) if svg else None
        sections.append({"view": view, "chart": chart})
    context = {
        "document": document,
        "portfolio": document["portfolio"],
        "sections": sections,
        "simulated": "simulated" in document["data_source"].split(","),
    }
    return render_to_string("reports/portfolio_report.html", context)
