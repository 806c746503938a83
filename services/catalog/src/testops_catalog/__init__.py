"""TestOps catalog: test cases, suites and tags."""
