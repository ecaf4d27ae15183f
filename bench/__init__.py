"""Benchmarks and peer harnesses (run by hand with `python -m bench.<name>`; not part of the test run)."""
