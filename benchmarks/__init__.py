"""Benchmarks of eftheory (run as modules, e.g. ``python -m benchmarks.engine``)."""
