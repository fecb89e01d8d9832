"""The spec of a result kind: everything about one kind of analytics result, in one declaration.

A kind is a subclass of :class:`ResultSpec` in its own module ``analytics/results/<name>.py``,
registered with :func:`analytics.results.registry.register`. Its ``name`` is the one name used as the
batch step, the stored ``PortfolioResult.kind``, the API's URL segment
(``/api/v1/analytics/portfolios/{id}/<name>``), the agent's tool (``get_<name>``) and the report
section. From the registered specs the rest of the system derives the step list and dependency
graph, the batch's runner for the step, ``batch_history``'s labels, the "not computed" commands, the
API view, URL and OpenAPI schema, the agent's tool and the report section — adding a kind is adding
its module (and its tests).

What a kind declares:

- identity: ``name``, ``title``, ``aliases`` (earlier step or stored names, still accepted);
- the graph: ``depends_on`` (kinds whose results it reads in memory: skipped when one of them failed
  for the portfolio) and ``needs`` (:class:`Need`: the day's symbol stage or factor model);
- provenance: ``method``, ``lookback_days`` and :meth:`ResultSpec.inputs`;
- its computation: :meth:`ResultSpec.prepare` once per chunk of portfolios (calls the pure engines
  over every position of the chunk) and :meth:`ResultSpec.build`, the payload of one portfolio;
- ``payload_type``, a ``TypedDict``: the stored JSON's declared shape, from which the API serializer
  and the OpenAPI schema are derived (``core.typed_serializers``);
- optionally per-position metric columns (:meth:`ResultSpec.metric_columns`, stored in
  ``PositionMetrics``), API extras beside the stored payload (``api_extra_type`` /
  :meth:`ResultSpec.api_extra`), its agent tool (``tool`` + :meth:`ResultSpec.tool_data`) and its
  report section (:meth:`ResultSpec.report`).

Example — a kind that stores the number of positions and their gross value (ARCHITECTURE.md has
the same example with every optional hook named)::

    class CountPayload(TypedDict):
        positions: int
        gross: float


    class Count(ResultSpec[CountPayload, None]):
        name = "count"
        title = "Position count"
        payload_type = CountPayload
        depends_on = ("overview",)
        method = "count of open positions"
        summary = "How many positions a portfolio holds"
        description = "The number of open positions and their gross market value."
        tool = AgentTool(description="Number of positions and their gross market value.")

        def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> CountPayload:
            values = np.nan_to_num(np.asarray(part.state["market_value"], dtype=float))
            return {"positions": len(part.positions), "gross": round(float(np.abs(values).sum()), 2)}


    SPEC = register(Count())
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from analytics.results.presentation import ReportSection, Value, num, text

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from django.db.models import QuerySet

    from analytics.models import PortfolioResult
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

P = TypeVar("P", bound=Mapping[str, Any])  # the payload (a TypedDict)
C = TypeVar("C")  # what ``prepare`` computes once per chunk

# A step's per-position metrics for one portfolio, column-wise: ``PositionMetrics`` attname → one
# value per position, ``position_id`` included, in the portfolio's row order.
MetricColumns = dict[str, list[Any]]
Row = Mapping[str, Any]

RUN_BATCH = "python manage.py run_batch"


class Need(enum.StrEnum):
    """What a kind needs from the symbol-level stage of the day, besides the positions and prices."""

    SYMBOL_STAGE = "symbol_stage"  # uses it when there is one (realised vols as the implied-vol fallback)
    FACTOR_MODEL = "factor_model"  # cannot run without the day's factor model: skipped when it failed


@dataclass(frozen=True)
class AgentTool:
    """The agent's read-only tool over a kind: ``get_<name>``, with its JSON-schema arguments."""

    description: str
    properties: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # earlier tool names, still answered


class ResultSpec(Generic[P, C]):
    """The declaration of a result kind (see the module docstring); subclass it in one module per kind."""

    name: ClassVar[str]
    title: ClassVar[str]
    payload_type: ClassVar[type]
    aliases: ClassVar[tuple[str, ...]] = ()
    depends_on: ClassVar[tuple[str, ...]] = ()
    needs: ClassVar[frozenset[Need]] = frozenset()
    method: ClassVar[str]
    lookback_days: ClassVar[int | None] = None
    # The API: summary and description of its endpoint, and fields answered beside the stored payload.
    summary: ClassVar[str]
    description: ClassVar[str]
    api_extra_type: ClassVar[type | None] = None
    # Earlier URLs of the endpoint (relative to /api/v1/, e.g. "data/portfolios/{portfolio_id}/x"), still served.
    legacy_paths: ClassVar[tuple[str, ...]] = ()
    tool: ClassVar[AgentTool | None] = None
    # Kinds whose history is the result (snapshots): the API lists the stored rows (``series``), each
    # answered as this TypedDict (``series_item``), instead of the newest result.
    series_item_type: ClassVar[type | None] = None
    # Reports show the kinds by rank, then in step order (the positions table has rank 30).
    report_rank: ClassVar[int] = 100
    # Whether a what-if may take a portfolio's *before* payload from the day's stored result computed from the
    # same book (``analytics.services.book``). False for a kind that also reads data the book does not cover
    # (``limits``: the limits' definitions): the what-if builds it again, from the other kinds' payloads.
    reuse_stored: ClassVar[bool] = True

    # --- names ----------------------------------------------------------------------------------

    @property
    def command(self) -> str:
        """The command that computes this kind (named by every "not computed" answer)."""
        return f"{RUN_BATCH} --steps {self.name}"

    @property
    def tool_name(self) -> str:
        return f"get_{self.name}"

    @property
    def needs_factor_model(self) -> bool:
        return Need.FACTOR_MODEL in self.needs

    @property
    def uses_symbol_stage(self) -> bool:
        return bool(self.needs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # --- the batch --------------------------------------------------------------------------------

    def prepare(self, chunk: ChunkContext) -> C:
        """Work shared by every portfolio of a chunk (engines over all its positions), done once.
        Runs only when the step runs; an exception fails the step for every portfolio of the chunk."""
        return None  # type: ignore[return-value]

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: C) -> P:
        """The payload of one portfolio (``part``: its rows of the chunk). Raising fails this portfolio only."""
        raise NotImplementedError

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: C) -> dict[str, Any]:
        """The provenance ``inputs`` of one portfolio's result: what produced it."""
        return {}

    @property
    def fills_position_metrics(self) -> bool:
        """Whether this kind fills ``PositionMetrics`` columns (it overrides :meth:`metric_columns`)."""
        return type(self).metric_columns is not ResultSpec.metric_columns

    def metric_columns(
        self, chunk: ChunkContext, part: PortfolioSlice, payload: P, prepared: C
    ) -> MetricColumns | None:
        """Per-position ``PositionMetrics`` columns this kind fills, or None; ``position_id`` included, as text (the
        slice's ``position_key``: the COPY sends text, and a str goes out as it is where a UUID takes a dumper
        written in Python)."""
        return None

    def rows(self, chunk: ChunkContext, part: PortfolioSlice, payload: P, prepared: C) -> list[Row]:
        """What one portfolio's payload stores: by default one ``PortfolioResult`` row with its provenance."""
        return [
            chunk.result(
                part.info.id,
                self.name,
                payload,
                method=self.method,
                lookback=self.lookback_days,
                inputs=self.inputs(chunk, part, prepared),
            )
        ]

    def write(self, rows: list[Row]) -> int:
        """Store the rows of a chunk in one transaction (a rerun replaces them)."""
        from django.db import transaction

        from analytics.services import persist

        with transaction.atomic():
            return persist.portfolio_results_upsert(rows=rows)  # type: ignore[arg-type]

    # --- reads ------------------------------------------------------------------------------------

    def latest(self, *, portfolio_id: uuid.UUID | str, as_of: dt.date | None = None) -> PortfolioResult | None:
        """The newest stored result of this kind (on or before ``as_of``), or None."""
        from analytics.selectors import portfolio_result_latest

        return portfolio_result_latest(portfolio_id=portfolio_id, kind=self.name, as_of=as_of)

    def payload_of(self, stored: Any) -> P:
        """The payload of a stored row (what :meth:`latest` returns)."""
        payload: P = stored.payload
        return payload

    def series(
        self, *, portfolio_id: uuid.UUID | str, start: dt.date | None = None, end: dt.date | None = None
    ) -> QuerySet[Any]:
        """The stored rows between ``start`` and ``end``, oldest first (kinds with a ``series_item_type``)."""
        raise NotImplementedError(f"{self.name} is answered as its newest result, not as a series")

    def series_item(self, row: Any) -> Mapping[str, Any]:
        """One stored row of the series as the API answers it (a ``series_item_type``)."""
        raise NotImplementedError(f"{self.name} is answered as its newest result, not as a series")

    # --- the API ----------------------------------------------------------------------------------

    def api_extra(self, result: PortfolioResult) -> Mapping[str, Any]:
        """Fields answered beside ``portfolio_id``, ``kind``, ``provenance`` and ``data`` (declared by
        ``api_extra_type``); may read other stored results through the selectors."""
        return {}

    # --- the agent --------------------------------------------------------------------------------

    def tool_data(
        self, payload: P, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(``data``, extra envelope fields such as the truncation marker) of the tool's answer: what a
        model needs, capped, not the whole payload."""
        return dict(payload), {}

    def tool_answer(self, portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
        """The tool's answer for one of the caller's portfolios: the newest result with its provenance,
        or ``not_computed`` naming the command."""
        from analytics.results.tooling import not_computed, result_envelope

        result = self.latest(portfolio_id=portfolio.pk)
        if result is None:
            return not_computed(self.title, self.command)
        data, extra = self.tool_data(result.payload, args, portfolio)
        return result_envelope(result, data, **extra)

    # --- the report -------------------------------------------------------------------------------

    def report(self, payload: P) -> ReportSection:
        """The kind's report section; by default its top-level numbers and words as facts."""
        facts: list[tuple[str, Value | str]] = []
        for key, value in payload.items():
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                continue
            label = key.replace("_", " ").capitalize()
            facts.append((label, text(value) if isinstance(value, str) else num(value)))
        return ReportSection(facts=list(facts))
