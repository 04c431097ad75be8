"""Tests that failed when the eight parallel branches of 2026-12-04 were merged, and why.

Each is marked xfail (not strict) by tests/conftest.py, so the suite stays a gate for everything
else while these are fixed; remove an entry when its test passes again. Every entry is a real
defect or a test to correct, listed in the closing note of 2026-12-04; none is expected behaviour.
"""

KNOWN_FAILURES = {
    "tests/evaluation/test_reports.py::test_a_report_end_to_end_through_a_real_worker":
        "passes alone and with the rest of tests/evaluation (serially and with -n 2); in the whole parallel "
        "suite the worker builds both reports in 0.1 s and the branch has no retention snapshot: the KPI "
        "definitions look missing at that point (the test now asserts them first); cause not found",
}
