"""``testops-results [serve]`` starts the service; ``testops-results migrate`` migrates its DB."""

from __future__ import annotations

from testops_kit.server import database_service_main
from testops_results.main import MIGRATIONS, create_app
from testops_results.settings import ResultsSettings


def main(argv: list[str] | None = None) -> None:
    database_service_main(
        prog="testops-results",
        description="TestOps results service (settings: TESTOPS_RESULTS_*).",
        settings_class=ResultsSettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        argv=argv,
    )


if __name__ == "__main__":
    main()
