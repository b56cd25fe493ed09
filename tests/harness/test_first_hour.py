"""A newcomer's first hour, through the installed ``medagent`` command: run folders, Ctrl-C
during first-use preparation, error messages that name the real cause, the documented
agent forms, names and order in view/report/leaderboard, private suites by id."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]


def medagent(*args: object, cwd: Path | None = None, env: dict | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("medagent")
    assert exe, "the medagent command is installed with the package"
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or ROOT, env={**os.environ, **(env or {})})


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``medagent: error: …`` line (no traceback, nothing else on stderr)."""
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("medagent: error: "), err
    return err.removeprefix("medagent: error: ")


# --- run folders ------------------------------------------------------------------------


def test_runs_started_in_the_same_second_get_their_own_folders(bench_suite_path, bench_service, tmp_path):
    # Folders named for this second and the next ones exist already (as after runs started
    # together): the run must claim a folder of its own, not refuse or share one.
    now = datetime.now(UTC)
    for k in range(60):
        taken = tmp_path / "runs" / f"{(now + timedelta(seconds=k)).strftime('%Y%m%d-%H%M%S')}-oracle"
        taken.mkdir(parents=True)
        (taken / "trials.jsonl").write_text("")
    procs = [subprocess.Popen([shutil.which("medagent"), "bench", "--suite", str(bench_suite_path), "--agent",
                               "oracle", "--tasks", "1", "--quiet"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    folders = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        # --quiet: no table, but still the score and where the run went
        match = re.search(r"overall 100\.0% · (\d+) trials · 0 errors · results in (\S+)", out + err)
        assert match, out + err
        assert "─" not in out + err  # no results table
        folders.append((tmp_path / match.group(2), int(match.group(1))))
    assert folders[0][0] != folders[1][0]
    for folder, n_trials in folders:
        assert folder.name.endswith(("-2", "-3"))
        assert len((folder / "trials.jsonl").read_text().splitlines()) == n_trials > 0


def test_a_finished_run_is_not_offered_resume(bench_suite_path, bench_service, tmp_path):
    out = tmp_path / "run"
    assert medagent("bench", "--suite", bench_suite_path, "--agent", "oracle", "--tasks", "1", "--quiet",
                    "--out", out).returncode == 0
    again = medagent("bench", "--suite", bench_suite_path, "--agent", "oracle", "--tasks", "1", "--quiet",
                     "--out", out)
    assert again.returncode == 2
    message = one_error_line(again)
    assert "--resume" not in message and "finished run" in message and "another --out" in message


# --- Ctrl-C during first-use preparation --------------------------------------------------


def test_ctrl_c_during_cohort_preparation_stops_at_once_and_leaves_the_cache_consistent(
        bench_suite, bench_suite_path, small_cohort, tmp_path):
    home = tmp_path / "home"
    # the cohort files are cached already: preparing means loading them into a new database
    shutil.copytree(small_cohort[0], home / "cohorts" / small_cohort[0].name)
    env = {**os.environ, "MEDAGENT_HOME": str(home)}
    cmd = [shutil.which("medagent"), "bench", "--suite", str(bench_suite_path), "--agent", "oracle",
           "--tasks", "1", "--quiet", "--out", str(tmp_path / "first")]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "preparing cohort" in line, line + proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "cohort ready" not in err  # it stopped, it did not finish preparing first
    assert "medagent: interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "first" / "trials.jsonl").exists() or not (tmp_path / "first" / "trials.jsonl").read_text()
    # the next run finds a consistent cache: it prepares the cohort again (or uses it) and passes
    cmd[-1] = str(tmp_path / "second")
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "overall 100.0%" in done.stderr
    assert not [p for p in (home / "cohorts").iterdir() if p.name.startswith(".")]  # no half-written cohort


# --- error messages that name the real cause ----------------------------------------------


@pytest.fixture
def cohort_server(running_server, seeded_db):
    from medagent.fhir_server import Store

    def start(**overrides):
        return running_server(Store(seeded_db), **overrides)

    return start


def test_fhir_url_without_the_fhir_suffix_says_so(bench_suite_path, cohort_server, tmp_path):
    server = cohort_server()
    proc = medagent("bench", "--suite", bench_suite_path, "--agent", "oracle", "--tasks", "1", "--quiet",
                    "--out", tmp_path / "run", "--fhir-url", server.root_url)
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert "does not hold the cohort" not in message
    assert "lacks /fhir" in message and f"--fhir-url {server.root_url}/fhir" in message
    # and with the suffix the same server works
    assert medagent("bench", "--suite", bench_suite_path, "--agent", "oracle", "--tasks", "1", "--quiet",
                    "--out", tmp_path / "ok", "--fhir-url", server.base_url).returncode == 0


@pytest.mark.parametrize(("token", "cause"), [(None, "missing"), ("wrong", "invalid")])
def test_a_token_protected_server_names_the_token(bench_suite_path, cohort_server, tmp_path, token, cause):
    server = cohort_server(token="s3cret-token")
    env = {"MEDAGENT_TOKEN": token} if token else {}
    proc = medagent("bench", "--suite", bench_suite_path, "--agent", "oracle", "--tasks", "1", "--quiet",
                    "--out", tmp_path / "run", "--fhir-url", server.base_url, env=env)
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert "is it a medagent server" not in message
    assert f"token is {cause}" in message and "HTTP 401" in message and "MEDAGENT_TOKEN" in message
    assert "s3cret-token" not in message and (token is None or token not in message)


def test_serve_on_a_busy_port_is_one_line_naming_the_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = medagent("serve", "--port", port, "--db", tmp_path / "x.db", "--no-seed", timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    message = one_error_line(proc)  # nothing printed as if serving
    assert f"port {port}" in message and "in use" in message


def test_a_suite_path_that_is_not_a_suite_names_the_given_file(tmp_path):
    (tmp_path / "notes.txt").write_text("my notes\n")
    for given in ("notes.txt", "./notes.txt"):
        proc = medagent("bench", "--suite", given, "--agent", "null", cwd=tmp_path)
        assert proc.returncode == 2
        message = one_error_line(proc)
        assert given in message and "notes.jsonl" not in message and "not a suite file" in message
    missing = medagent("bench", "--suite", "./gone.txt", "--agent", "null", cwd=tmp_path)
    assert one_error_line(missing) == "suite file not found: ./gone.txt"


def test_a_bad_environment_setting_names_the_variable(bench_suite_path, tmp_path):
    proc = medagent("bench", "--suite", bench_suite_path, "--agent", "null", "--out", tmp_path / "run",
                    env={"MEDAGENT_MAX_RETRIES": "lots", "MEDAGENT_CONFIG": str(tmp_path / "absent.toml")})
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert "MEDAGENT_MAX_RETRIES" in message and "'lots'" in message
    assert "absent.toml" not in message and "settings.toml" not in message  # no file is to blame


def test_an_unknown_suite_is_said_once(bench_suite_path, bench_service, tmp_path):
    out = tmp_path / "run"  # the small test suite is not a built-in: submit cannot find it by id
    assert medagent("bench", "--suite", bench_suite_path, "--agent", "oracle", "--tasks", "1", "--quiet",
                    "--out", out).returncode == 0
    proc = medagent("submit", out, "-o", tmp_path / "sub.json")
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert message.count("unknown suite") == 1 and "'small'" in message


def test_tasks_list_of_a_category_the_suite_lacks_is_an_error(bench_suite_path):
    proc = medagent("tasks", "list", "--suite", bench_suite_path, "--category", "11")
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert "no category 11" in message and "1, 2, 3" in message
    assert proc.stdout == ""
    listed = medagent("tasks", "list", "--suite", bench_suite_path, "--category", "10")
    assert listed.returncode == 0 and "task10_1" in listed.stdout


# --- the documented agent forms ------------------------------------------------------------


@pytest.mark.parametrize("spec", ["examples.custom_agent:LookupAgent", "examples/custom_agent.py:LookupAgent"])
def test_the_example_agent_runs_in_both_documented_forms(bench_suite_path, bench_service, tmp_path, spec):
    proc = medagent("bench", "--suite", bench_suite_path, "--agent", spec, "--tasks", "1", "--quiet",
                    "--out", tmp_path / "run", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "No module named" not in proc.stderr and "overall" in proc.stderr


# --- names and natural order in view, report and leaderboard ---------------------------------


@pytest.fixture(scope="module")
def long_run(small_cohort, bench_service, tmp_path_factory):
    """A null-agent run over categories 1, 2 and 10 of a suite with 11 tasks per category
    (so task1_10 and task1_2 both exist); one trial carries a cost."""
    from medagent import tasks

    folder = tmp_path_factory.mktemp("long")
    suite = tasks.build_suite("long", 3, small_cohort[0], per_category=11)
    jsonl, _ = tasks.write_suite(suite, folder)
    out = folder / "run"
    proc = medagent("bench", "--suite", jsonl, "--agent", "null", "--tasks", "10", "2", "1", "--quiet", "--out", out)
    assert proc.returncode == 0, proc.stderr
    lines = (out / "trials.jsonl").read_bytes().splitlines()
    first = orjson.loads(lines[0])
    first["cost_usd"] = 0.000123456
    (out / "trials.jsonl").write_bytes(b"\n".join([orjson.dumps(first), *lines[1:]]) + b"\n")
    (out / "summary.json").unlink()  # recomputed from the trials
    return out, first["trial_id"]


def test_view_names_categories_orders_naturally_and_says_fail(long_run):
    from medagent import tasks

    out, priced = long_run
    proc = medagent("view", out, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    titles = {n: tasks.get_category(n).TITLE for n in (1, 2, 10)}
    for n, title in titles.items():
        assert f"category {n} · {title}" in text
    assert text.index(f"category 2 · {titles[2]}") < text.index(f"category 10 · {titles[10]}")
    assert text.index("task1_2#1") < text.index("task1_10#1") < text.index("task2_1#1")
    one = medagent("view", out, "task1_3", env={"COLUMNS": "200"})
    assert one.returncode == 0
    assert "FAIL" in one.stdout and "COMPLETED" not in one.stdout  # the null agent answers nothing
    assert titles[1] in one.stdout
    assert "cost —" in one.stdout and "None" not in one.stdout
    costly = medagent("view", out, priced, env={"COLUMNS": "200"})
    assert "cost $0.0001" in costly.stdout and "0.000123456" not in costly.stdout


def test_report_names_categories_and_orders_naturally(long_run):
    from medagent import tasks

    out, _ = long_run
    proc = medagent("report", out, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text()
    order = re.findall(r'<details class="trial" id="[^"]*"', page)
    ids = [re.search(r'id="([^"]*)"', d).group(1) for d in order]
    assert ids.index(next(i for i in ids if "task1_2" in i)) < ids.index(next(i for i in ids if "task1_10" in i))
    options = re.findall(r'<option value="(\d+)">([^<]*)</option>', page)
    assert [v for v, _ in options] == ["1", "2", "10"]
    html_title = tasks.get_category(10).TITLE.replace("'", "&#x27;")
    assert options[2][1] == f"C10 {html_title}"
    # failure reasons: biggest group first, then categories in natural order
    rows = re.findall(r"<tr><td>C(\d+)[^<]*</td><td>[^<]*</td><td class='num'>(\d+)</td>",
                      page.split('id="failures"')[1])
    keys = [(-int(count), int(category)) for category, count in rows]
    assert len(keys) >= 3 and keys == sorted(keys)
    assert f"category 10 · {tasks.get_category(10).TITLE}" in proc.stdout  # the terminal table (as view's) too


def test_leaderboard_names_categories_and_uses_the_whole_window(tmp_path):
    from medagent import tasks

    (tmp_path / "subs").mkdir()
    proc = medagent("leaderboard", "build", tmp_path / "subs", "-o", tmp_path / "site")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "site" / "index.html").read_text()
    title = tasks.get_category(5).TITLE
    assert re.search(rf'<th data-key="c5"[^>]*title="{re.escape(title)}"', page)
    assert f"C5 {title}" in page  # the legend
    # the board is not confined to the page's 1280 px column (it was clipped, then scrolled)
    assert '<div class="scroll wide"><table id="board"' in page
    assert re.search(r"\.scroll\.wide \{[^}]*width: 100vw", page)


# --- private suites by id ---------------------------------------------------------------------


def test_a_built_suite_runs_by_id(small_cohort, bench_service, tmp_path):
    from tests.fixtures_cohort import SMALL_N, SMALL_SEED

    home = Path(os.environ["MEDAGENT_HOME"])
    try:
        built = medagent("tasks", "build", "--suite-id", "my-private", "--profile", "mab-v1", "--cohort-seed",
                         SMALL_SEED, "--patients", SMALL_N, "--per-category", 1, "--no-baselines", cwd=tmp_path)
        assert built.returncode == 0, built.stderr
        assert (home / "suites" / "my-private.jsonl").exists() and not list(tmp_path.iterdir())
        assert "medagent bench --suite my-private" in built.stderr
        listed = medagent("tasks", "list", "--suite", "my-private")
        assert listed.returncode == 0 and "task1_1" in listed.stdout
        run = medagent("bench", "--suite", "my-private", "--agent", "oracle", "--tasks", "1", "--quiet",
                       "--out", tmp_path / "run")
        assert run.returncode == 0, run.stderr
        assert "overall 100.0%" in run.stderr
        unknown = medagent("bench", "--suite", "not-built", "--agent", "oracle")
        assert "my-private" in one_error_line(unknown)  # listed among the known suites
    finally:
        for suffix in (".jsonl", ".json"):
            (home / "suites" / f"my-private{suffix}").unlink(missing_ok=True)


# --- tests and the user's home ------------------------------------------------------------------


def test_tests_never_use_the_users_home():
    import tempfile

    from tests import conftest

    home = Path(os.environ["MEDAGENT_HOME"]).resolve()
    assert conftest.USER_HOME is None or home != Path(conftest.USER_HOME).expanduser().resolve()
    assert home != Path("~/.cache/medagent").expanduser().resolve()
    if conftest._OWN_HOME:
        assert home.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not Path(os.environ["MEDAGENT_CONFIG"]).exists()
