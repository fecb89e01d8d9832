"""Benchmarks (run as scripts: ``python bench/bench_<name>.py``); their results are in BENCHMARKS.md."""
