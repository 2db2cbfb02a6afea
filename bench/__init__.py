"""Benchmarks, run by ``make bench``; never part of the test suite.

Each figure is reported beside a baseline measured in the same run on the same machine, as a
ratio, because these machines are noisy and absolute numbers travel badly.
"""
