"""Analytics of uploaded results: flaky tests, run trends and failure groups."""
