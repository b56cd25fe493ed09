"""`medagent leaderboard verify FILE` and `medagent leaderboard build DIR -o SITE`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    parser = sub.add_parser("leaderboard", help="verify submissions and build the leaderboard site")
    verbs = parser.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    verify = verbs.add_parser(
        "verify",
        help="replay and re-grade a submission and check its scores",
        description="Replay every trial's recorded FHIR requests against a fresh session of the suite's "
        "cohort (the embedded store, created on first use) and check the recorded responses and writes; "
        "re-grade every trial from its recorded answer and writes against the known suite; exit non-zero "
        "with the reason when anything does not match. Proves the trajectory came from this environment, "
        "not which model produced it.",
    )
    verify.add_argument("file", metavar="FILE", type=Path, help="a submission (.json or .json.gz)")
    add_suite_option(verify)
    verify.set_defaults(func=run_verify)

    build = verbs.add_parser(
        "build",
        help="build a static HTML leaderboard from a folder of submissions",
        description="Verify every submission in DIR and write SITE/index.html (sortable, offline) "
        "and SITE/leaderboard.json; unverifiable submissions are skipped with a reason.",
    )
    build.add_argument("folder", metavar="DIR", type=Path, help="folder of submission files")
    build.add_argument("-o", "--output", metavar="SITE", type=Path, required=True, help="output folder")
    add_suite_option(build)
    build.set_defaults(func=run_build)


def add_suite_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--suite", metavar="ID|PATH",
        help="re-grade against this suite (an id or a suite .jsonl file) instead of the built-in "
        "suite the submission names; its id must still match",
    )


def suite_kwargs(args: argparse.Namespace) -> dict:
    """``verify_submission`` keyword arguments for ``--suite`` (empty: the named built-in suite)."""
    if not args.suite:
        return {}
    from medagent import tasks

    return {"suite": tasks.load_suite(args.suite)}


def rate(value: float | None) -> str:
    """A success rate as printed by the CLI (``—`` when there was nothing to score)."""
    return "—" if value is None else f"{value:.4f}"


BASELINE_NOTE = "reference baseline: labelled, never ranked among entries"


def verified_line(verified) -> str:  # noqa: ANN001 - medagent.leaderboard.Verified
    """What ``submit`` and ``verify`` print about a verified submission."""
    scores = verified.scores
    harm = scores.get("harm") or {}
    line = (
        f"{verified.n_trials} trials replayed ({verified.replayed} FHIR requests) and re-graded, "
        f"overall {rate(scores['overall'])}, query {rate(scores['query'])}, action {rate(scores['action'])}, "
        f"harm {harm.get('count', 0)} ({rate(harm.get('rate'))})"
    )
    weighted = (scores.get("harm_weighted") or {}).get("overall")
    if weighted is not None:
        line += f", harm-weighted {weighted:+.4f}"
    faults = verified.metadata.get("faults")
    if faults not in (None, "none"):
        line += f", under --faults {faults}"
    return f"{line} [{BASELINE_NOTE}]" if verified.baseline else line


def run_verify(args: argparse.Namespace) -> int:
    from medagent.leaderboard import verify_file

    verified = verify_file(args.file, **suite_kwargs(args))
    meta = verified.metadata
    print(f"OK {args.file}: {meta['model'] or '(no model)'} ({meta['agent']}) on {meta['suite']}: "
          f"{verified_line(verified)}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    import sys

    from functools import partial

    from medagent.leaderboard import build_site, verify_file

    board = build_site(args.folder, args.output, verify=partial(verify_file, **suite_kwargs(args)))
    for name, reason in board.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(f"{args.output / 'index.html'}: {len(board.entries)} verified, {len(board.baselines)} reference "
          f"baseline(s) (not ranked), {len(board.skipped)} skipped")
    return 0
