"""`medagent submit`, `medagent leaderboard verify|build`: exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from medagent.cli import main
from medagent.leaderboard import read_submission

from ._runs import board_dir, edited

pytestmark = pytest.mark.usefixtures("known_mini")


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("medagent: error: ")
    return lines[0]


def test_submit_then_verify(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "sub.json.gz"
    assert main(["submit", str(run_dir), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "verified: 8 trials replayed (0 FHIR requests) and re-graded, overall 0.7500" in captured.err
    digest = read_submission(out)["digest"]
    assert captured.out.strip() == f"{out}  {digest}"

    assert main(["leaderboard", "verify", str(out)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"OK {out}: gpt-test (react) on mini-v1: 8 trials replayed (0 FHIR requests) and re-graded, "
        "overall 0.7500, query 0.7500, action 0.7500, harm 0 (0.0000), harm-weighted +0.7500"
    )


def test_submit_refuses_a_run_whose_summary_lies(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    summary = orjson.loads((run_dir / "summary.json").read_bytes())
    summary["per_category"]["5"] = 1.0
    (run_dir / "summary.json").write_bytes(orjson.dumps(summary))
    out = tmp_path / "sub.json"
    assert main(["submit", str(run_dir), "-o", str(out)]) == 2
    assert one_line_error(capsys) == "medagent: error: score 'per_category.5' is 1.0 but re-grading gives 0.75"
    assert not out.exists()

    # --no-verify writes it anyway; verifying it later still fails
    assert main(["submit", str(run_dir), "-o", str(out), "--no-verify"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "verify", str(out)]) == 2
    assert one_line_error(capsys) == f"medagent: error: {out}: score 'per_category.5' is 1.0 but re-grading gives 0.75"


def test_submit_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["submit", str(tmp_path / "nope"), "-o", str(tmp_path / "x.json")]) == 2
    assert one_line_error(capsys).endswith("nope: not a run folder (no such directory)")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot read submission (No such file or directory)"),
        (b"", "malformed submission: not JSON"),
        (b'{"format": "medagent-submission", "version": 7}', "malformed submission: unsupported version 7"),
    ],
)
def test_verify_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], content, reason):
    path = tmp_path / "sub.json"
    if content is not None:
        path.write_bytes(content)
    assert main(["leaderboard", "verify", str(path)]) == 2
    line = one_line_error(capsys)
    assert line.startswith(f"medagent: error: {path}: ")
    assert reason in line


def test_verify_rejects_a_tampered_file(doc: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "sub.json"
    path.write_bytes(orjson.dumps(edited(doc, lambda d: d["trials"][0].update(answer=["S9999999"]), reseal=False)))
    assert main(["leaderboard", "verify", str(path)]) == 2
    assert "digest mismatch: the file was changed after packing" in one_line_error(capsys)


def test_build_keeps_verified_and_skips_others_with_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = board_dir(tmp_path)
    site = tmp_path / "site"
    assert main(["leaderboard", "build", str(folder), "-o", str(site)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "skipped alpha2.json: duplicate of alpha.json (same digest)",
        "skipped forged.json: score 'overall' is 1.0 but re-grading gives 0.75",
    ]
    assert captured.out.strip() == f"{site / 'index.html'}: 3 verified, 0 reference baseline(s) (not ranked), 2 skipped"
    data = orjson.loads((site / "leaderboard.json").read_bytes())
    assert [e["file"] for e in data["entries"]] == ["alpha.json", "beta.json.gz", "gamma.json"]
    assert data["skipped"][1] == {"file": "forged.json", "reason": "score 'overall' is 1.0 but re-grading gives 0.75"}
    assert (site / "index.html").stat().st_size > 0


def test_build_of_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["leaderboard", "build", str(tmp_path / "none"), "-o", str(tmp_path / "site")]) == 2
    assert one_line_error(capsys).endswith("none: no such directory of submissions")
