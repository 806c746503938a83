"""TestOps gateway: one /api/v1 in front of catalog, results and executor."""
