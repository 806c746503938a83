"""TestOps results: Allure results ingest, runs, test results and attachments."""
