"""``testops-results [serve]`` starts the service; ``testops-results migrate`` migrates its DB."""

from __future__ import annotations

import argparse
import asyncio

from testops_kit.logging import configure_logging
from testops_kit.migrations import upgrade
from testops_kit.server import serve
from testops_results.main import MIGRATIONS, create_app
from testops_results.settings import ResultsSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="testops-results", description="TestOps results service (settings: TESTOPS_RESULTS_*)."
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate"],
        help="serve (default) or migrate the database to the newest revision and exit",
    )
    args = parser.parse_args(argv)
    settings = ResultsSettings()
    if args.command == "migrate":
        configure_logging(level=settings.log_level, fmt=settings.log_format)
        asyncio.run(upgrade(MIGRATIONS, settings.resolved_database_url))
        return
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
