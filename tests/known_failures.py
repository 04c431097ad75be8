"""Tests that failed when the eight parallel branches of 2026-12-04 were merged, and why.

Each is marked xfail (not strict) by tests/conftest.py, so the suite stays a gate for everything
else while these are fixed; remove an entry when its test passes again. Every entry is a real
defect or a test to correct, listed in the closing note of 2026-12-04; none is expected behaviour.
"""

KNOWN_FAILURES: dict[str, str] = {}
