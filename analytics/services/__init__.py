"""Analytics services: load inputs in a few queries, compute with the pure engines, persist in bulk.

- ``inputs``   — positions of many portfolios as one frame; prices, spots and option quotes.
- ``compute``  — each step's computation over those frames (no ORM).
- ``persist``  — bulk upserts of results with provenance.
- ``batch``    — the daily orchestrator with run records, isolation, locking and fan-out.
- ``expiries`` — options that expired settled as position changes (exercise, assignment, cash, worthless).
- ``snapshots``— the day's snapshot values (P&L at each day's marks, flows) and their backfill.
"""
