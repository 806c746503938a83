"""``testops-executor [serve]`` starts the service; ``testops-executor migrate`` migrates its DB."""

from __future__ import annotations

from testops_executor.main import MIGRATIONS, create_app
from testops_executor.settings import ExecutorSettings
from testops_kit.server import database_service_main


def main(argv: list[str] | None = None) -> None:
    database_service_main(
        prog="testops-executor",
        description="TestOps executor service (settings: TESTOPS_EXECUTOR_*).",
        settings_class=ExecutorSettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        argv=argv,
    )


if __name__ == "__main__":
    main()
