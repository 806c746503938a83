"""The kit every TestOps process is built from."""
