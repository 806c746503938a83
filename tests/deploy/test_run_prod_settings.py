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
    "GATEWAY_DB_PASSWORD": "gateway-secret",
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
    secrets_dir=Path("/srv/testops/secrets"),
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
    secrets = compose.service_secrets(document, process)

    native = compose.native_environment(in_container, process, PLACE, secrets)

    assert native.keys() == in_container.keys()
    changed = {key for key in native if native[key] != in_container[key]}
    for key in changed:
        before, after = in_container[key], native[key]
        if key.endswith("_HOST"):
            assert (before, after) == ("0.0.0.0", "127.0.0.1")
        elif key.endswith("_DATABASE_URL"):
            database = before.rsplit("/", 1)[1]
            assert after == f"postgresql://admin:pw@db.local:6543/try_{database}"
        elif before.startswith("/run/secrets/"):
            assert before in secrets, key
            assert after == f"/srv/testops/secrets/{Path(secrets[before]).name}"
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


def test_a_mounted_secret_is_a_local_file_and_one_not_mounted_is_missing() -> None:
    document = compose.load(REPO / "docker-compose.yml")
    settings = compose.service_environment(document, "migrate-gateway", VARIABLES)
    key_file = "TESTOPS_GATEWAY_PRINCIPAL_PRIVATE_KEY_FILE"

    gateway = compose.native_environment(
        settings, "gateway", PLACE, compose.service_secrets(document, "gateway")
    )
    # The migration step mounts no key: natively its setting names a file that is not there.
    step = compose.native_environment(
        settings, "migrate-gateway", PLACE, compose.service_secrets(document, "migrate-gateway")
    )

    assert compose.service_secrets(document, "gateway") == {
        "/run/secrets/principal.pem": "./secrets/principal.pem"
    }
    assert gateway[key_file] == "/srv/testops/secrets/principal.pem"
    assert step[key_file] == "/srv/testops/migrate-gateway/run/secrets/principal.pem"


def test_a_mounted_secret_compose_does_not_define_is_an_error() -> None:
    document = compose.load(REPO / "docker-compose.yml")
    document["services"]["catalog"]["secrets"].append("nowhere")

    with pytest.raises(compose.ComposeError, match="undefined secret 'nowhere'"):
        compose.service_secrets(document, "catalog")


def test_run_prod_makes_the_key_pairs_compose_mounts_and_keeps_those_there(
    tmp_path: Path,
) -> None:
    import run

    from testops_kit.principal import load_private_key, load_public_key, public_key_of

    files = compose.secret_files(compose.load(REPO / "docker-compose.yml"))
    folder = tmp_path / "secrets"
    run._make_secrets(files, folder)
    made = {path.name: path.read_bytes() for path in folder.iterdir()}
    run._make_secrets(files, folder)

    assert sorted(made) == sorted(Path(file).name for file in files.values())
    for pair in ("principal", "executor"):
        private = made[f"{pair}.pem"]
        load_private_key(private)
        load_public_key(made[f"{pair}.pub"])
        assert public_key_of(private) == made[f"{pair}.pub"]
        assert (folder / f"{pair}.pem").stat().st_mode & 0o077 == 0
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == made
