"""The HTML report: the formatted sections plus server-rendered SVG charts, in one self-contained page."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template import Context, Engine
from django.utils.safestring import mark_safe

from reports.builders.charts import chart_svg
from reports.builders.present import report_sections_present

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE_NAME = "reports/portfolio_report.html"


@lru_cache(maxsize=1)
def report_template_engine() -> Engine:
    """The engine the report page is rendered with: this app's templates and Django's built-in tags only.

    Not the project's ``TEMPLATES`` backend: that one imports every installed app's template-tag
    libraries the first time it is used (DRF's alone pulls in psycopg, yaml, requests and pygments,
    0.2 s), and the report is a standalone document that needs none of them, nor context processors.
    Autoescaping is on, as in the default engine. Compiled templates are cached except under
    ``DEBUG``, where an edited template shows in the next report without a restart (the dev
    server's template reloading only knows the ``TEMPLATES`` engines).
    """
    loaders: list[Any] = ["django.template.loaders.filesystem.Loader"]
    if not settings.DEBUG:
        loaders = [("django.template.loaders.cached.Loader", loaders)]
    return Engine(dirs=[str(TEMPLATES_DIR)], loaders=loaders, debug=settings.DEBUG, autoescape=True)


def render_html(document: dict[str, Any]) -> str:
    sections = []
    for view in report_sections_present(document):
        drawn = [svg for chart in view.charts if (svg := chart_svg(chart))]
        # Built by reports.builders.svg, which escapes every piece of text: safe to inline.
        sections.append({"view": view, "chart": mark_safe("".join(drawn)) if drawn else None})
    context = {
        "document": document,
        "portfolio": document["portfolio"],
        "sections": sections,
        "simulated": "simulated" in document["data_source"].split(","),
    }
    return report_template_engine().get_template(TEMPLATE_NAME).render(Context(context))
