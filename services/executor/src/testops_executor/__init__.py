"""TestOps executor: runs a repository's pytest suite and uploads its Allure results."""
