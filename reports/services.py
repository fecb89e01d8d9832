"""Write portfolio reports (Markdown, JSON, CSV, HTML) from stored analytics.

A report lands in ``<REPORTS_DIR>/<portfolio-slug>_<YYYY-MM-DD>/portfolio_report.<ext>``. All
requested files are first written to a temporary folder beside it, then moved into place with
``os.replace`` (or the whole folder renamed when it is new), so a reader never sees a half-written
file and a rerun for the same day replaces the previous files cleanly.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from core.exceptions import ApplicationError, NotFoundError
from portfolios.models import Portfolio
from portfolios.selectors import portfolios_all
from reports.builders.document import report_as_of_resolve, report_document_build
from reports.builders.html import render_html
from reports.builders.markdown import render_markdown
from reports.builders.tabular import render_csv, render_json

logger = logging.getLogger("sigmasight.reports")

REPORT_BASENAME = "portfolio_report"
RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "md": render_markdown,
    "json": render_json,
    "csv": render_csv,
    "html": render_html,
}
FORMATS: tuple[str, ...] = tuple(RENDERERS)


@dataclass
class ReportResult:
    """What one report run did: the files written, the sections that were not computed, or the error."""

    portfolio_id: str
    portfolio_name: str = ""
    as_of: dt.date | None = None
    directory: Path | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    missing_sections: list[str] = field(default_factory=list)
    stale_sections: list[str] = field(default_factory=list)
    data_source: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def report_formats_parse(*, formats: Iterable[str]) -> tuple[str, ...]:
    """Validate and de-duplicate report formats, keeping the caller's order."""
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    unknown = [f for f in chosen if f not in RENDERERS]
    if unknown or not chosen:
        raise ApplicationError(
            f"Unknown report format(s): {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}.",
            code="invalid_format",
        )
    return chosen


def report_directory(*, portfolio: Portfolio, as_of: dt.date, output_dir: Path | None = None) -> Path:
    base = Path(output_dir) if output_dir is not None else Path(settings.REPORTS_DIR)
    return base / f"{slugify(portfolio.name) or portfolio.pk}_{as_of.isoformat()}"


def _write_atomically(target: Path, files: dict[str, str]) -> dict[str, Path]:
    """Write ``files`` (name → text) into ``target`` through a temporary sibling folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    # mkdtemp makes the folder private (0700); a report folder gets the usual permissions under the umask.
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    try:
        for name, content in files.items():
            (staging / name).write_text(content, encoding="utf-8")
        if not target.exists():
            try:
                staging.rename(target)
                return {name: target / name for name in files}
            except OSError:  # created concurrently: fall back to replacing file by file
                pass
        for name in files:
            os.replace(staging / name, target / name)
        return {name: target / name for name in files}
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _portfolio_get(portfolio_id: uuid.UUID | str) -> Portfolio:
    try:
        return portfolios_all().get(pk=portfolio_id)
    except (Portfolio.DoesNotExist, ValidationError, ValueError, TypeError):  # a malformed UUID too
        raise NotFoundError(f"Portfolio {portfolio_id} not found.") from None


def report_generate(
    *,
    portfolio_id: uuid.UUID | str,
    as_of: dt.date | None = None,
    formats: Sequence[str] = FORMATS,
    output_dir: Path | None = None,
) -> ReportResult:
    """Write one portfolio's report for ``as_of`` (default: its newest stored analytics day).

    Reads stored analytics only; a section that was never computed is written as "not computed"
    with the command that computes it. Raises ``NotFoundError`` for an unknown portfolio and
    ``ApplicationError`` for an unknown format.
    """
    chosen = report_formats_parse(formats=formats)
    portfolio = _portfolio_get(portfolio_id)
    if as_of is None:
        as_of = report_as_of_resolve(portfolio_id=portfolio.pk)
    document = report_document_build(portfolio=portfolio, as_of=as_of)
    files = {f"{REPORT_BASENAME}.{fmt}": RENDERERS[fmt](document) for fmt in chosen}
    directory = report_directory(portfolio=portfolio, as_of=as_of, output_dir=output_dir)
    written = _write_atomically(directory, files)
    logger.info("Report for %s (%s) written to %s", portfolio.name, as_of, directory)
    return ReportResult(
        portfolio_id=str(portfolio.pk),
        portfolio_name=portfolio.name,
        as_of=as_of,
        directory=directory,
        paths={fmt: written[f"{REPORT_BASENAME}.{fmt}"] for fmt in chosen},
        missing_sections=list(document["missing_sections"]),
        stale_sections=list(document["stale_sections"]),
        data_source=document["data_source"],
    )


def reports_generate_all(
    *,
    as_of: dt.date | None = None,
    portfolio_ids: Iterable[uuid.UUID | str] | None = None,
    formats: Sequence[str] = FORMATS,
    output_dir: Path | None = None,
) -> list[ReportResult]:
    """A report per portfolio (all, or those listed); one failure is recorded and the rest still run."""
    chosen = report_formats_parse(formats=formats)
    if portfolio_ids is None:
        targets: list[tuple[str, str]] = [(str(p.pk), p.name) for p in portfolios_all()]
    else:
        targets = [(str(pid), "") for pid in portfolio_ids]
    results = []
    for portfolio_id, name in targets:
        try:
            results.append(
                report_generate(portfolio_id=portfolio_id, as_of=as_of, formats=chosen, output_dir=output_dir)
            )
        except Exception as exc:
            logger.exception("Report for portfolio %s failed", portfolio_id)
            message = exc.message if isinstance(exc, ApplicationError) else f"{exc.__class__.__name__}: {exc}"
            results.append(ReportResult(portfolio_id=portfolio_id, portfolio_name=name, as_of=as_of, error=message))
    return results
