"""Benchmarks (`make bench`): figures and the ratio to a minimal reference, never timed tests."""
