"""Submissions are untrusted input: read streamed, within bounds; a decompression bomb is
rejected in one line with bounded memory, and ``leaderboard build`` skips it."""

from __future__ import annotations

import functools
import gzip
import subprocess
import sys
import zlib
from pathlib import Path

import orjson
import pytest

from medagent.cli import main
from medagent.errors import SubmissionError
from medagent.leaderboard import Limits, read_submission, verify_file, write_submission
from medagent.leaderboard._format import layout_bytes

from ._runs import MINI, edited, mini_grade

GiB = 1 << 30
MiB = 1 << 20


def _gzip_member(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip member
    return compressor.compress(data) + compressor.flush()


def write_bomb(path: Path, head: bytes, filler: bytes = b"x", inflated: int = 2 * GiB) -> Path:
    """``head`` then ``inflated`` bytes of ``filler``: one 1 MiB gzip member repeated
    (gzip allows concatenated members), so a ~2 MB file inflates to 2 GiB."""
    chunk = _gzip_member(filler * (MiB // len(filler)))
    with open(path, "wb") as fh:
        fh.write(_gzip_member(head))
        for _ in range(inflated // MiB):
            fh.write(chunk)
    return path


def verify_in_child(path: Path) -> tuple[str, int]:
    """(the one-line reason, peak RSS in MiB) of verifying ``path`` in a fresh process."""
    code = (
        "import resource, sys\n"
        "from medagent.errors import SubmissionError\n"
        "from medagent.leaderboard import verify_file\n"
        "try:\n"
        "    verify_file(sys.argv[1])\n"
        "    print('accepted')\n"
        "except SubmissionError as exc:\n"
        "    print(exc)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    reason, peak = done.stdout.strip().splitlines()
    return reason, int(peak)


@functools.cache
def _baseline_rss() -> int:
    code = "import resource, medagent.leaderboard; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def test_bomb_inside_a_trial_is_rejected_with_bounded_memory(doc: dict, tmp_path: Path):
    head = layout_bytes(doc).split(b"\n", 1)[0] + b"\n"  # a genuine header, then one endless trial
    bomb = write_bomb(tmp_path / "bomb.json.gz", head)
    assert bomb.stat().st_size < 3 * MiB
    reason, peak = verify_in_child(bomb)
    assert reason == f"{bomb}: submission rejected: trial #1 exceeds 16 MiB (limit)"
    # loose: the bomb inflates to 2048 MiB; reading it must cost about one record bound
    assert peak - _baseline_rss() < 200, peak


def test_one_line_bomb_is_rejected_with_bounded_memory(tmp_path: Path):
    bomb = write_bomb(tmp_path / "flat.json.gz", b'{"format":"medagent-submission","x":"', filler=b"a")
    reason, peak = verify_in_child(bomb)
    assert reason.startswith(f"{bomb}: submission rejected: a document not laid out one trial per line "
                             "is limited to 64 MiB")
    assert peak - _baseline_rss() < 400, peak


def test_newline_bomb_stops_at_the_first_empty_record(doc: dict, tmp_path: Path):
    head = layout_bytes(doc).split(b"\n", 1)[0] + b"\n"
    bomb = write_bomb(tmp_path / "lines.json.gz", head, filler=b"\n")
    with pytest.raises(SubmissionError, match="malformed submission: the file ends inside the trials"):
        verify_file(bomb, suite=MINI, grade=mini_grade, replay=None)


def _written(doc: dict, path: Path) -> Path:
    return write_submission(doc, path)


def test_limits_on_trials_records_and_total_size(doc: dict, tmp_path: Path):
    path = _written(doc, tmp_path / "sub.json.gz")
    kwargs = {"suite": MINI, "grade": mini_grade, "replay": None}
    assert verify_file(path, **kwargs).n_trials == 8  # the defaults admit it
    cases = [
        (Limits(max_trials=3), "submission rejected: more than 3 trials (limit)"),
        (Limits(max_record_bytes=1000), "submission rejected: trial #1 exceeds 0.000953674 MiB (limit)"),
        (Limits(max_header_bytes=100, max_compact_bytes=200),
         "submission rejected: a document not laid out one trial per line is limited to 0.000190735 MiB"),
        (Limits(max_bytes=5000), "submission rejected: more than 0.00476837 MiB once decompressed (limit)"),
    ]
    for limits, reason in cases:
        with pytest.raises(SubmissionError) as info:
            verify_file(path, limits=limits, **kwargs)
        assert str(info.value) == f"{path}: {reason}" or reason in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["trials"][0].update(answer=list(range(1001))),
         "malformed submission: trials.0.answer: List should have at most 1000 items"),
        (lambda d: d["trials"][1].update(error="e" * 70_000),
         "malformed submission: trials.1.error: String should have at most 64000 characters"),
        (lambda d: d["trials"][2].update(trial_id="t" * 300),
         "malformed submission: trials.2.trial_id: String should have at most 200 characters"),
        (lambda d: d["trials"][3].update(fhir_requests=[{}] * 10_001),
         "malformed submission: trials.3.fhir_requests: List should have at most 10000 items"),
    ],
)
def test_field_bounds(doc: dict, tmp_path: Path, change, reason: str):
    path = _written(edited(doc, change), tmp_path / "sub.json")
    with pytest.raises(SubmissionError) as info:
        verify_file(path, suite=MINI, grade=mini_grade, replay=None)
    assert str(info.value).startswith(f"{path}: {reason}")


def test_layout_is_one_trial_per_line_and_still_one_json_document(doc: dict, tmp_path: Path):
    path = _written(doc, tmp_path / "sub.json")
    lines = path.read_bytes().splitlines()
    assert len(lines) == len(doc["trials"]) + 2
    assert lines[0].endswith(b'"trials":[') and lines[-1] == b'],"version":1}'
    assert orjson.loads(path.read_bytes()) == doc == read_submission(path)
    # a compact (one-line) document, as older files are, still verifies
    compact = tmp_path / "compact.json.gz"
    compact.write_bytes(gzip.compress(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)))
    assert verify_file(compact, suite=MINI, grade=mini_grade, replay=None).n_trials == 8


def test_trailing_data_and_torn_files_are_rejected(doc: dict, tmp_path: Path):
    data = layout_bytes(doc)
    torn = tmp_path / "torn.json"
    torn.write_bytes(data[: data.rfind(b"\n", 0, len(data) - 1) - 40])
    with pytest.raises(SubmissionError, match="malformed submission: the file ends inside the trials"):
        verify_file(torn, suite=MINI, grade=mini_grade, replay=None)
    trailing = tmp_path / "trailing.json"
    trailing.write_bytes(data + b'{"more": 1}\n')
    with pytest.raises(SubmissionError, match="malformed submission: data after the end of the document"):
        verify_file(trailing, suite=MINI, grade=mini_grade, replay=None)


@pytest.mark.usefixtures("known_mini")
def test_build_skips_a_bomb_with_its_reason(doc: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = tmp_path / "subs"
    folder.mkdir()
    write_submission(doc, folder / "good.json.gz")
    head = layout_bytes(doc).split(b"\n", 1)[0] + b"\n"
    write_bomb(folder / "bomb.json.gz", head, inflated=64 * MiB)
    assert main(["leaderboard", "build", str(folder), "-o", str(tmp_path / "site")]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["skipped bomb.json.gz: submission rejected: trial #1 exceeds 16 MiB (limit)"]
    board = orjson.loads((tmp_path / "site" / "leaderboard.json").read_bytes())
    assert [e["file"] for e in board["entries"]] == ["good.json.gz"]
    assert board["skipped"] == [{"file": "bomb.json.gz",
                                 "reason": "submission rejected: trial #1 exceeds 16 MiB (limit)"}]


def test_a_line_laid_out_by_hand_is_hashed_canonically(doc: dict, tmp_path: Path):
    """The digest is over canonical JSON: a trial line with another key order still matches
    (and a real edit on such a line is still a mismatch)."""
    lines = layout_bytes(doc).split(b"\n")
    unsorted = orjson.dumps(doc["trials"][0], option=orjson.OPT_INDENT_2).replace(b"\n", b"")
    assert unsorted != lines[1][:-1]
    lines[1] = unsorted + b","
    path = tmp_path / "hand.json"
    path.write_bytes(b"\n".join(lines))
    assert verify_file(path, suite=MINI, grade=mini_grade, replay=None).n_trials == 8
    lines[1] = lines[1].replace(b'"epoch": 1', b'"epoch": 2')
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(SubmissionError, match="digest mismatch"):
        verify_file(path, suite=MINI, grade=mini_grade, replay=None)
