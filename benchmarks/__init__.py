"""Benchmarks of issue 7: poll cost against the 2016 script, fan-out latency, display footprint, flood.

`python -m benchmarks` (or `make bench`) runs them all and writes BENCHMARKS.md; tests/test_benchmarks.py runs
each once at a tiny size.
"""
