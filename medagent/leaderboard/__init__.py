"""Leaderboard submissions: pack a run, verify it by re-grading, build a static leaderboard.

- :func:`pack_run` reads a run folder and returns a sealed submission document;
  :func:`write_submission` writes it (gzip when the name ends in ``.gz``).
- :func:`verify_file` / :func:`verify_submission` re-grade every trial with ``tasks.grade``
  against the known suite and raise :class:`medagent.errors.SubmissionError` with a
  one-line reason when anything does not match.
- :func:`build_site` turns a folder of submissions into ``index.html`` + ``leaderboard.json``.
"""

from ._format import FORMAT, VERSION, compute_digest, read_submission, seal, write_submission
from ._pack import pack_run
from ._scores import score_trials
from ._site import Board, build_site
from ._verify import Verified, verify_file, verify_submission

__all__ = [
    "FORMAT",
    "VERSION",
    "Board",
    "Verified",
    "build_site",
    "compute_digest",
    "pack_run",
    "read_submission",
    "score_trials",
    "seal",
    "verify_file",
    "verify_submission",
    "write_submission",
]
