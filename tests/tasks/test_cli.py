"""`medagent tasks list|show|export|build`."""

from __future__ import annotations

import orjson
import pytest

from medagent import tasks
from medagent.cli import main
from tests.fixtures_cohort import SMALL_N, SMALL_SEED


@pytest.fixture
def suite_file(small_suite, tmp_path):
    jsonl, _ = tasks.write_suite(small_suite, tmp_path)
    return jsonl


def test_list_and_show(suite_file, small_suite, capsys):
    assert main(["tasks", "list", "--suite", str(suite_file), "--category", "5"]) == 0
    out = capsys.readouterr().out
    for task in small_suite.category(5):
        assert task.id in out and task.branch in out
    task = small_suite.category(9)[0]
    assert main(["tasks", "show", task.id, "--suite", str(suite_file)]) == 0
    out = capsys.readouterr().out
    assert task.id in out and "Potassium replacement" in out and "Expected" in out
    assert '"answer"' in out


def test_export_is_the_suite_jsonl(suite_file, tmp_path, capsys):
    out = tmp_path / "export.jsonl"
    assert main(["tasks", "export", "--suite", str(suite_file), "--out", str(out)]) == 0
    assert out.read_bytes() == suite_file.read_bytes()
    assert main(["tasks", "export", "--suite", str(suite_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [orjson.loads(line)["id"] for line in lines] == [t.id for t in tasks.load_suite(suite_file).tasks]


def test_build_writes_a_loadable_suite(small_cohort, tmp_path):
    assert main(["tasks", "build", "--suite-id", "mini", "--seed", "3", "--cohort-seed",
                 str(SMALL_SEED), "--patients", str(SMALL_N), "--per-category", "2",
                 "--profile", "mab-v1", "--no-baselines", "--out", str(tmp_path)]) == 0
    suite = tasks.load_suite(tmp_path / "mini.jsonl")
    assert len(suite.tasks) == 20 and suite.cohort_checksum == small_cohort[1].checksum
    header = orjson.loads((tmp_path / "mini.json").read_bytes())
    assert header["n_tasks"] == 20 and header["checksum"] == suite.checksum
    assert header["cohort_profile"] == "mab-v1" and "baselines" not in header


def test_build_a_private_split_of_the_edge_suite(small_edge_cohort, tmp_path):
    from tests.fixtures_cohort import EDGE_N, EDGE_SEED

    assert main(["tasks", "build", "--suite-id", "edge-private", "--seed", "5", "--cohort-seed",
                 str(EDGE_SEED), "--patients", str(EDGE_N), "--profile", "edge-v1",
                 "--no-baselines", "--out", str(tmp_path)]) == 0
    suite = tasks.load_suite(tmp_path / "edge-private.jsonl")
    assert suite.cohort_profile == "edge-v1" and suite.cohort_checksum == small_edge_cohort[1].checksum
    assert "5/order_2g_at_1.0" in suite.branch_counts()


def test_unknown_profile_is_one_line(tmp_path, capsys):
    assert main(["tasks", "build", "--suite-id", "x", "--profile", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown cohort profile 'nope'" in err and err.count("\n") == 1


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["tasks", "show", "task99_1", "--suite", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("medagent: error: unknown suite 'nope'") and err.count("\n") == 1
    (tmp_path / "x.jsonl").write_bytes(b"{}\n")
    (tmp_path / "x.json").write_bytes(b'{"id": "x"}')
    assert main(["tasks", "list", "--suite", str(tmp_path / "x.jsonl")]) == 2
    assert "header lacks" in capsys.readouterr().err
