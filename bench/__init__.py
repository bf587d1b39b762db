"""Benchmarks (``make bench``): the CSV imports on PostgreSQL, and POST /callback latency and memory."""
