"""``testops-catalog [serve]`` starts the service; ``testops-catalog migrate`` migrates its DB."""

from __future__ import annotations

from testops_catalog.main import MIGRATIONS, create_app
from testops_catalog.settings import CatalogSettings
from testops_kit.server import database_service_main


def main(argv: list[str] | None = None) -> None:
    database_service_main(
        prog="testops-catalog",
        description="TestOps catalog service (settings: TESTOPS_CATALOG_*).",
        settings_class=CatalogSettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        argv=argv,
    )


if __name__ == "__main__":
    main()
