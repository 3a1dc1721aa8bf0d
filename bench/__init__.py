"""Benchmark: the bot against loopback fakes under N concurrent mentions, next to a naive baseline.

Run `scripts/bench` (or `python -m bench`); see `bench/README.md` for what each figure means.
"""
