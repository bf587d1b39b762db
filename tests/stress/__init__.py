"""Slow fault and load tests (``make test-stress``)."""
