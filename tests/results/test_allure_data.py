"""The test data itself: the real writer's files and the expectation computed from them."""

from __future__ import annotations

import gzip
import json
import tarfile
import zipfile
from pathlib import Path

from tests.results.allure_data import (
    ENVIRONMENT,
    EXECUTOR,
    MIB,
    ExpectedRun,
    attachment_files,
    container_files,
    history_id,
    read_json,
    result_files,
    results_named,
    tar_gz_bomb,
    tar_gz_folder,
    zip_bomb,
    zip_folder,
)


def test_expected_summary_of_the_standard_suite_matches_the_numbers_known_by_hand(
    expected: ExpectedRun,
) -> None:
    # 11 tests: pays_with_card, discount[0|10|50], finds_by_name and flaky (2nd try) pass;
    # total_is_wrong and always_fails fail; gateway_is_down is broken; refunds (skip) and
    # rounding (xfail) are skipped. flaky and always_fails ran twice: 2 tests, 2 extra results.
    assert expected.stats == {
        "total": 11,
        "passed": 6,
        "failed": 2,
        "broken": 1,
        "skipped": 2,
        "unknown": 0,
        "retries": 2,
        "retry_attempts": 2,
    }
    assert expected.status == "failed"
    assert sorted(r["name"] for r in expected.retried) == [
        "test_always_fails",
        "test_flaky_passes_on_second_try",
    ]
    assert expected.started_at is not None
    assert expected.finished_at is not None
    assert (
        expected.duration_ms == (expected.finished_at - expected.started_at).total_seconds() * 1000
    )


def test_the_writer_produced_every_kind_of_file_the_tests_rely_on(allure_results: Path) -> None:
    assert len(result_files(allure_results)) == 13
    assert len(attachment_files(allure_results)) == 6
    containers = [read_json(path) for path in container_files(allure_results)]
    assert {f["name"] for c in containers for f in c.get("befores", [])} >= {"store", "cart"}
    assert any(c.get("afters") and c.get("children") for c in containers)
    assert (allure_results / "environment.properties").read_text().splitlines() == [
        f"{key}={value}" for key, value in ENVIRONMENT.items()
    ]
    assert json.loads((allure_results / "executor.json").read_text()) == EXECUTOR
    [card] = results_named(allure_results, "test_pays_with_card")
    assert {"name": "as_id", "value": "123"} in card["labels"]
    [search] = results_named(allure_results, "test_finds_by_name")
    assert {"name": "ALLURE_ID", "value": "456"} in search["labels"]
    assert [s["name"] for s in card["steps"][0]["steps"]] == ["Count the items"]
    flaky = results_named(allure_results, "test_flaky_passes_on_second_try")
    assert [r["status"] for r in flaky] == ["failed", "passed"]


def test_history_ids_group_results_as_the_writer_s_own_history_ids_do(
    allure_results: Path,
) -> None:
    results = [read_json(path) for path in result_files(allure_results)]

    by_ours = {
        frozenset(r["uuid"] for r in results if history_id(r) == history_id(x)) for x in results
    }
    by_writer = {
        frozenset(r["uuid"] for r in results if r["historyId"] == x["historyId"]) for x in results
    }

    assert by_ours == by_writer
    assert len(by_ours) == 11


def test_archives_hold_every_file_at_the_root_or_under_the_top_folder(
    allure_results: Path, tmp_path: Path
) -> None:
    names = sorted(path.name for path in allure_results.iterdir())

    with zipfile.ZipFile(zip_folder(allure_results, tmp_path / "r.zip")) as archive:
        assert sorted(archive.namelist()) == names
    top = tar_gz_folder(allure_results, tmp_path / "r.tar.gz", top="allure-results")
    with tarfile.open(top) as archive:
        files = [m.name for m in archive.getmembers() if m.isfile()]
    assert sorted(files) == [f"allure-results/{name}" for name in names]


def test_bombs_are_valid_archives_of_zeros_a_thousand_times_smaller(tmp_path: Path) -> None:
    mib = 3

    packed_zip = zip_bomb(tmp_path / "b.zip", name="folder/zeros-attachment.bin", mib=mib)
    packed_tar = tar_gz_bomb(tmp_path / "b.tar.gz", name="zeros-attachment.bin", mib=mib)

    with zipfile.ZipFile(packed_zip) as archive:
        assert archive.testzip() is None  # every CRC checks out
        [info] = archive.infolist()
        assert (info.filename, info.file_size) == ("folder/zeros-attachment.bin", mib * MIB)
        assert archive.read(info) == bytes(mib * MIB)
    with tarfile.open(packed_tar) as archive:
        [member] = archive.getmembers()
        assert (member.name, member.size) == ("zeros-attachment.bin", mib * MIB)
        extracted = archive.extractfile(member)
        assert extracted is not None
        assert extracted.read() == bytes(mib * MIB)
    assert len(gzip.decompress(packed_tar.read_bytes())) == 512 + mib * MIB + 1024
    for packed in (packed_zip, packed_tar):
        assert packed.stat().st_size < mib * MIB // 900
