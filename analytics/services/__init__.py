"""Analytics services: load inputs in a few queries, compute with the pure engines, persist in bulk.

The daily batch, in the order a run goes through it:

- ``batch``     — the orchestrator: run records, the lock, the market data step, the symbol stage,
  chunks of portfolios inline or fanned out to django-q2 workers, post steps (reports).
- ``locking``   — one run per as-of date (advisory lock on PostgreSQL, a lock row on SQLite).
- ``inputs``    — positions of many portfolios as one frame; prices, spots, option quotes, sectors.
- ``compute``   — what every kind of a chunk shares: the symbol stage (returns, realised vols,
  factor betas of every symbol, once per run; the ``FACTOR_SET`` the engines are given) and the
  position state (valuation and Greeks of every position, once per chunk).
- ``steps``     — the chunk context and the one runner that runs a result kind over a chunk
  (``analytics.results``: each kind's ``prepare``, ``build`` and ``write``), isolating portfolios.
- ``jobs``      — the step graph derived from the registered kinds, and the ``BatchJob`` recorder.
- ``columns``   — a frame's columns as numpy arrays, sliced per portfolio without copies.
- ``writer``    — the background writer that stores a step's results while the next one computes.
- ``persist``   — bulk upserts (COPY on PostgreSQL) of results, metrics and snapshots with provenance.
- ``expiries``  — options that expired settled as position changes (exercise, assignment, cash, worthless).
- ``snapshots`` — the day's snapshot values (P&L at each day's marks, flows) and their backfill.
- ``catalog``   — the stress scenario catalog (seeded into ``StressScenario``).
"""
