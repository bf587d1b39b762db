"""Benchmarks (``make bench``): how fast the CSV imports run on PostgreSQL."""
