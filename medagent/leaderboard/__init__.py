"""Leaderboard submissions: pack a run, verify it by replaying and re-grading, build a static leaderboard.

- :func:`pack_run` reads a run folder and returns a sealed submission document;
  :func:`write_submission` writes it (gzip when the name ends in ``.gz``).
- :func:`verify_file` / :func:`verify_submission` replay every trial's recorded FHIR
  requests against the suite's cohort (``Replayer``), re-grade every trial with
  ``tasks.grade`` against the known suite and raise :class:`medagent.errors.SubmissionError`
  with a one-line reason when anything does not match. Files are read streamed, within
  ``Limits``.
- :func:`build_site` turns a folder of submissions into ``index.html`` + ``leaderboard.json``.
"""

from medagent.scores import harm_counts, score_trials

from ._format import (
    FORMAT,
    REFERENCE_AGENTS,
    VERSION,
    compute_digest,
    is_baseline,
    seal,
    write_submission,
)
from ._pack import pack_run
from ._replay import Replayer, open_replayer
from ._site import Board, build_site
from ._stream import LIMITS, Limits, read_submission
from ._verify import Verified, verify_file, verify_submission

__all__ = [
    "FORMAT",
    "LIMITS",
    "REFERENCE_AGENTS",
    "VERSION",
    "Board",
    "Limits",
    "Replayer",
    "Verified",
    "build_site",
    "compute_digest",
    "harm_counts",
    "is_baseline",
    "open_replayer",
    "pack_run",
    "read_submission",
    "score_trials",
    "seal",
    "verify_file",
    "verify_submission",
    "write_submission",
]
