"""``make run-prod`` gives each process docker-compose.yml's settings: read and interpolated as
compose reads them, changed only where an address or a path cannot be the same outside the
containers (scripts/compose_native.py)."""

from __future__ import annotations

import re
from pathlib import Path

import compose_native as compose
import pytest

REPO = Path(__file__).resolve().parents[2]
VARIABLES = {
    "POSTGRES_PASSWORD": "pg-secret",
    "CATALOG_DB_PASSWORD": "catalog-secret",
    "RESULTS_DB_PASSWORD": "results-secret",
    "EXECUTOR_DB_PASSWORD": "executor-secret",
    "MINIO_ROOT_USER": "testops",
    "MINIO_ROOT_PASSWORD": "minio-secret",
    "TESTOPS_GATEWAY_TOKENS": "ci:read,write,execute:sha256:" + "0" * 64,
}
PLACE = compose.NativePlace(
    ports={"gateway": 18000, "catalog": 18001, "results": 18002, "executor": 18003},
    postgres_url="postgresql://admin:pw@db.local:6543/postgres",
    database_prefix="try_",
    s3_endpoint_url="http://127.0.0.1:9999",
    data_dir=Path("/srv/testops"),
    allure_dir=Path("/opt/tools/allure"),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", "a"),
        ("$A/x", "a/x"),
        ("${UNSET}", ""),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${UNSET-fallback}", "fallback"),
        ("${A:+other}", "other"),
        ("${EMPTY:+other}", ""),
        ("${UNSET:-${A}-nested}", "a-nested"),
        ("$${A} costs $$5", "${A} costs $5"),
        ("http://${A}:${B:-2}@h", "http://a:2@h"),
    ],
)
def test_interpolation_follows_compose(text: str, expected: str) -> None:
    assert compose.interpolate(text, {"A": "a", "EMPTY": ""}) == expected


def test_a_required_variable_that_is_missing_or_empty_stops_with_compose_s_message() -> None:
    with pytest.raises(compose.ComposeError, match="required variable P is missing a value: make"):
        compose.interpolate("${P:?make one}", {"P": ""})
    assert compose.interpolate("${P?make one}", {"P": ""}) == ""
    with pytest.raises(compose.ComposeError, match="Unclosed"):
        compose.interpolate("${P", {})


def test_an_env_file_is_read_as_compose_reads_it(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# a comment\n\nPLAIN=value\nQUOTED='with # hash'\nexport EXPORTED=\"x y\"\n"
        "COMMENTED=v # note\nEMPTY=\n"
    )

    assert compose.read_env_file(env) == {
        "PLAIN": "value",
        "QUOTED": "with # hash",
        "EXPORTED": "x y",
        "COMMENTED": "v",
        "EMPTY": "",
    }
    env.write_text("not a setting\n")
    with pytest.raises(compose.ComposeError, match=":1: not a KEY=value line"):
        compose.read_env_file(env)


def test_docker_compose_yml_interpolates_with_the_variables_env_example_names() -> None:
    document = compose.load(REPO / "docker-compose.yml")

    interpolated = compose.interpolate_document(document, VARIABLES)

    environment = interpolated["services"]["catalog"]["environment"]
    assert environment["TESTOPS_CATALOG_S3_SECRET_ACCESS_KEY"] == "minio-secret"
    assert environment["TESTOPS_CATALOG_DATABASE_URL"] == (
        "postgresql://catalog:catalog-secret@postgres:5432/catalog"
    )
    for password in ("POSTGRES_PASSWORD", "EXECUTOR_DB_PASSWORD"):
        without_password = {key: value for key, value in VARIABLES.items() if key != password}
        with pytest.raises(compose.ComposeError, match=password):
            compose.interpolate_document(document, without_password)


def test_run_prod_makes_up_every_password_compose_requires() -> None:
    """Natively the server's own user connects: the roles' passwords are only made up."""
    import run

    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{([A-Z_]+_PASSWORD):\?", text))

    assert required >= {"POSTGRES_PASSWORD", "CATALOG_DB_PASSWORD", "EXECUTOR_DB_PASSWORD"}
    assert required <= set(run.GENERATED)


@pytest.mark.parametrize("process", compose.PROCESSES)
def test_each_process_natively_gets_compose_s_settings_with_only_addresses_and_paths_changed(
    process: str,
) -> None:
    document = compose.load(REPO / "docker-compose.yml")
    in_container = compose.service_environment(document, process, VARIABLES)

    native = compose.native_environment(in_container, process, PLACE)

    assert native.keys() == in_container.keys()
    changed = {key for key in native if native[key] != in_container[key]}
    for key in changed:
        before, after = in_container[key], native[key]
        if key.endswith("_HOST"):
            assert (before, after) == ("0.0.0.0", "127.0.0.1")
        elif key.endswith("_DATABASE_URL"):
            database = before.rsplit("/", 1)[1]
            assert after == f"postgresql://admin:pw@db.local:6543/try_{database}"
        elif before.startswith("/var/lib/testops"):
            assert after == f"/srv/testops/{process}{before.removeprefix('/var/lib/testops')}"
        elif before.startswith("/opt/allure"):
            assert after == f"/opt/tools/allure{before.removeprefix('/opt/allure')}"
        else:
            assert before.startswith("http://"), key
            assert after.startswith("http://127.0.0.1:"), key
    for value in native.values():
        for container_host in ("postgres:", "minio:", "catalog:", "results:", "executor:"):
            assert f"//{container_host}" not in value
            assert f"@{container_host}" not in value
