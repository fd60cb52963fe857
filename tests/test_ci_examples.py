"""The CI examples, examples/github-actions.yml and examples/gitlab-ci.yml, can be copied as
they are: a real validator accepts them (check-jsonschema's vendored GitHub-workflow and
GitLab-CI schemas), every rmsync command in them is real, and they keep their promises: apply
is serialised and starts from the branch tip; the lockfile push is a step of its own job,
retries on a moved branch and fails loudly; one plan comment, found by rmsync's marker, is
edited in place and replaced by a failure note when plan fails; plans read with read-only
credentials and only apply writes; a schedule runs `rmsync check` and keeps one issue. The
structure is read from the parsed YAML; the scripts are run with bash, real git repositories,
and stand-ins for `gh`, `rmsync` and GitLab's API.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import click
import pytest
import yaml

from rmsync.cli import cli
from rmsync.sandbox import Sandbox, Schedule
from tests import builders
from tests.run import rmsync

ROOT = Path(__file__).resolve().parents[1]
GITHUB = ROOT / "examples" / "github-actions.yml"
GITLAB = ROOT / "examples" / "gitlab-ci.yml"
PLAN_MARKER = "<!-- rmsync: rmsync.yaml -->"  # `rmsync plan --format markdown`, first line
CHECK_MARKER = "<!-- rmsync: check -->"  # `rmsync check --format markdown`, first line

needs_jq = pytest.mark.skipif(shutil.which("jq") is None, reason="the GitHub steps use jq")


def github() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(GITHUB.read_text())
    return doc


def gitlab() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(GITLAB.read_text())
    return doc


def triggers(doc: dict[Any, Any]) -> dict[str, Any]:
    """The workflow's `on:` (YAML 1.1, which PyYAML reads, makes the key `True`)."""
    found: dict[str, Any] = doc["on"] if "on" in doc else doc[True]
    return found


def gh_job(name: str) -> dict[str, Any]:
    job: dict[str, Any] = github()["jobs"][name]
    return job


def gh_step(job: str, needle: str) -> dict[str, Any]:
    """The one step of a GitHub job whose `run` holds `needle`."""
    steps = [s for s in gh_job(job)["steps"] if needle in s.get("run", "")]
    assert len(steps) == 1, f"{len(steps)} steps of {job} run {needle!r}"
    return cast(dict[str, Any], steps[0])


def gl_job(name: str) -> dict[str, Any]:
    job: dict[str, Any] = gitlab()[name]
    return job


def gl_script(name: str, key: str = "script") -> str:
    return "\n".join(gl_job(name).get(key, []))


# -- a real validator ---------------------------------------------------------------------------

VALIDATIONS = {
    "github-workflow": (GITHUB, ["--builtin-schema", "vendor.github-workflows"]),
    # every job says how long it may run (GitHub's default is 6 hours)
    "github-timeouts": (GITHUB, ["--builtin-schema", "custom.github-workflows-require-timeout"]),
    # the transform reads GitLab's !reference tags, should a copy use them
    "gitlab-ci": (
        GITLAB,
        ["--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"],
    ),
}


def check_jsonschema(path: Path, options: list[str]) -> subprocess.CompletedProcess[str]:
    """check-jsonschema from this interpreter's environment, on its vendored schemas (offline)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--color", "never", *options, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("case", VALIDATIONS)
def test_a_real_validator_accepts_the_ci_examples(case: str) -> None:
    path, options = VALIDATIONS[case]
    result = check_jsonschema(path, options)
    assert result.returncode == 0, result.stdout + result.stderr


def _unquote_a_script_line(text: str) -> str:
    """A script line with `: ` and quotes in it, unquoted: YAML cannot read it."""
    return re.sub(r"(?m)^(\s+- )'([^'\n]*: [^'\n]*)'$", r"\1\2", text, count=1)


def _the_old_line_38(text: str) -> str:
    """The bug this file once had: a script line with `: ` unquoted reads as a mapping."""
    line = '    - git checkout -B "$CI_DEFAULT_BRANCH" "origin/$CI_DEFAULT_BRANCH"\n'
    old = '    - git diff --cached --quiet || git commit -m "rmsync: record exports [skip ci]"\n'
    return text.replace(line, line + old, 1)


BROKEN: dict[str, tuple[Path, Callable[[str], str], str, str]] = {
    "github-unknown-job-key": (
        GITHUB,
        lambda t: t.replace("runs-on:", "runs_on:", 1),
        "github-workflow",
        "Additional properties are not allowed ('runs_on' was unexpected)",
    ),
    "github-no-timeout": (
        GITHUB,
        lambda t: re.sub(r"(?m)^ *timeout-minutes: 15\b.*\n", "", t, count=1),
        "github-timeouts",
        "'timeout-minutes' is a required property",
    ),
    "gitlab-unquoted-colon": (GITLAB, _the_old_line_38, "gitlab-ci", "is not of type 'string'"),
    "gitlab-unreadable-line": (GITLAB, _unquote_a_script_line, "gitlab-ci", "Failed to parse"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_the_validator_rejects_a_broken_copy(case: str, tmp_path: Path) -> None:
    path, breaking, validation, message = BROKEN[case]
    text = path.read_text()
    broken = breaking(text)
    assert broken != text, "the breaking edit found nothing to break"
    copy = tmp_path / path.name
    copy.write_text(broken)
    result = check_jsonschema(copy, [*VALIDATIONS[validation][1], "--verbose"])
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert message in out


# -- every rmsync command line is real ----------------------------------------------------------

# `rmsync WORD ...` where a shell command starts: at the start of a line (after YAML's `- `,
# `run: ` or `entry: ` and a quote), or after `&&`, `||`, `;`, `then`, `else`, `do`, `if`, `!`.
# Prose in echo lines and comments is not a command.
_COMMAND = re.compile(
    r"""(?:^|&&|\|\||;|\b(?:then|else|do|if)\b|!)\s*(?:-\s+)?(?:(?:run|entry):\s+)?['"]?"""
    r"""(rmsync\s+[a-z][\w-]*.*)"""
)


def ci_command_lines() -> list[str]:
    """Every rmsync command the CI examples and the pre-commit hook run."""
    found = []
    for path in [GITHUB, GITLAB, ROOT / ".pre-commit-hooks.yaml"]:
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                continue
            match = _COMMAND.search(line)
            if match:
                found.append(match.group(1).strip().rstrip("'\""))
    return found


def command_words(line: str) -> list[str]:
    """The words of the command: up to a redirection, pipe, `&&`, `||` or `;` (and no comment)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words: list[str] = []
    for word in lexer:
        if word and all(c in "();<>|&" for c in word):
            if word.startswith(">") and words and words[-1].isdigit():
                words.pop()  # 2> file
            break
        words.append(word)
    return words


@pytest.mark.parametrize("line", ci_command_lines())
def test_ci_examples_use_real_commands_and_flags(line: str) -> None:
    words = command_words(line)
    assert words[0] == "rmsync"
    command = cli.get_command(click.Context(cli), words[1])
    assert command is not None, f"rmsync has no command {words[1]!r}"
    command.make_context(words[1], words[2:])  # raises UsageError on an unknown flag or value


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_ci_examples_run_validate_plan_offline_apply_and_check(path: Path) -> None:
    lines = [line for line in ci_command_lines() if line in path.read_text()]
    assert {command_words(line)[1] for line in lines} >= {"validate", "plan", "apply", "check"}
    plans = [command_words(line) for line in lines if command_words(line)[1] == "plan"]
    assert any("--offline" in words for words in plans), "forks plan offline"
    assert any("--offline" not in words for words in plans)
    for words in plans:
        assert {"--format", "markdown", "--detailed-exitcode"} <= set(words)


def test_every_other_mention_of_an_rmsync_command_is_prose() -> None:
    """No command hides where the finder does not look (`x=$(rmsync plan)`, say)."""
    for path in (GITHUB, GITLAB):
        for line in path.read_text().splitlines():
            if re.search(r"\brmsync [a-z]", line) and not _COMMAND.search(line):
                code = line.split(" #", 1)[0].strip()
                assert code.startswith("#") or code.startswith("echo ") or "rmsync" not in code, (
                    line
                )


def test_the_command_finder_sees_commands_in_every_position() -> None:
    text = "\n".join(
        [
            "      rmsync plan --out p.json > plan.md 2> err",
            "    - 'rmsync validate'",
            "        run: rmsync apply --auto-approve",
            "  if rmsync validate --format github; then",
            "  rmsync validate || break",
            '  echo "rmsync plan failed"',
        ]
    )
    found = [_COMMAND.search(line) for line in text.splitlines()]
    words = [command_words(m.group(1).strip().rstrip("'\"")) if m else [] for m in found]
    assert words == [
        ["rmsync", "plan", "--out", "p.json"],
        ["rmsync", "validate"],
        ["rmsync", "apply", "--auto-approve"],
        ["rmsync", "validate", "--format", "github"],
        ["rmsync", "validate"],
        [],
    ]


# -- the markers are the ones rmsync writes -----------------------------------------------------


@pytest.mark.parametrize("command", ["plan", "check"])
def test_the_markers_are_the_first_line_rmsync_writes(
    command: str, tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    shutil.copy(ROOT / "examples" / "rmsync.yaml", tmp_path / "rmsync.yaml")
    env = builders.tenant_env(make_sandbox(schedule=Schedule(0, 0)).base_url)
    env.pop("GITHUB_STEP_SUMMARY", None)
    ran = rmsync(command, "--format", "markdown", cwd=tmp_path, env=env)
    assert ran.code in (0, 2, 3), ran.err
    first = ran.out.splitlines()[0]
    job = {"plan": ("plan", "rmsync-plan"), "check": ("check", "rmsync-check")}[command]
    assert gh_job(job[0])["env"]["MARKER"] == first
    assert gl_job(job[1])["variables"]["MARKER"] == first
    assert first == {"plan": PLAN_MARKER, "check": CHECK_MARKER}[command]


# -- GitHub Actions: structure -----------------------------------------------------------------


def test_github_apply_is_serialised_and_applies_the_tip_of_main() -> None:
    job = gh_job("apply")
    assert job["concurrency"] == {"group": "rmsync-apply", "cancel-in-progress": False}
    steps = job["steps"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    runs = [s.get("run", "") for s in steps]
    to_tip = next(i for i, r in enumerate(runs) if "git checkout -B" in r)
    assert (
        'git fetch --no-tags origin "+refs/heads/$BRANCH:refs/remotes/origin/$BRANCH"'
        in runs[to_tip]
    )
    assert 'git checkout -B "$BRANCH" "origin/$BRANCH"' in runs[to_tip]
    applying = next(i for i, r in enumerate(runs) if r.startswith("rmsync apply"))
    assert to_tip < applying
    assert job["env"]["BRANCH"] == "main"


def test_github_lockfile_push_is_an_always_step_with_a_bounded_retry_that_fails_loudly() -> None:
    step = gh_step("apply", "git push")
    assert step["if"] == "always()"  # an export that was started is committed, apply failed or not
    script = step["run"]
    assert script.startswith("set -euo pipefail\n")
    loop = script[script.index("for attempt in 1 2 3 4 5; do") : script.rindex("done")]
    assert "git push" in loop and "git rebase" in loop and "git fetch" in loop
    after = script[script.rindex("done") :].splitlines()[1:]
    assert after[0].startswith('echo "::error title=rmsync::could not push rmsync.lock.yaml')
    assert after[-1] == "exit 1"
    assert "--force" not in script


def test_github_plan_comment_is_one_sticky_comment_found_by_the_marker() -> None:
    assert "--edit-last" not in GITHUB.read_text()
    assert "gh pr comment" not in GITHUB.read_text()
    step = gh_step("plan", "issues/comments/$id")
    script = step["run"]
    assert '.user.login == "github-actions[bot]"' in script
    assert "any(. == $marker)" in script  # the marker is a whole line, not a substring
    assert "--method PATCH" in script and "--method POST" in script
    # it runs when plan failed (to replace the comment), never for a fork (a read-only token)
    assert step["if"].startswith("${{ !cancelled() && ")
    assert "github.event.pull_request.head.repo.full_name == github.repository" in step["if"]


def test_github_plan_failure_fails_the_job_after_the_comment() -> None:
    steps = gh_job("plan")["steps"]
    names = [s.get("name", "") for s in steps]
    comment = names.index("Update the plan comment")
    failing = [
        i
        for i, s in enumerate(steps)
        if "steps.plan.outputs.exitcode != '0'" in str(s.get("if", ""))
        and s.get("run", "").rstrip().endswith("exit 1")
    ]
    assert failing and failing[0] > comment
    assert "!cancelled()" in steps[failing[0]]["if"]


def test_github_plans_read_and_only_apply_writes() -> None:
    doc = github()
    assert not any(k.startswith("SAIL_CLIENT") for k in doc.get("env", {}))
    read = {
        "SAIL_CLIENT_ID": "${{ secrets.SAIL_READ_CLIENT_ID }}",
        "SAIL_CLIENT_SECRET": "${{ secrets.SAIL_READ_CLIENT_SECRET }}",
    }
    write = {
        "SAIL_CLIENT_ID": "${{ secrets.SAIL_CLIENT_ID }}",
        "SAIL_CLIENT_SECRET": "${{ secrets.SAIL_CLIENT_SECRET }}",
    }
    for name, job in doc["jobs"].items():
        credentials = {k: v for k, v in job.get("env", {}).items() if k.startswith("SAIL_CLIENT")}
        assert credentials == (write if name == "apply" else read), name
        if name != "apply":
            assert "secrets.SAIL_CLIENT_" not in yaml.safe_dump(job), name
    # the write token lives in an environment that a pull request's workflow cannot reach
    assert doc["jobs"]["apply"]["environment"] == "rmsync-apply"
    assert doc["permissions"] == {}
    assert doc["jobs"]["plan"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert doc["jobs"]["apply"]["permissions"] == {"contents": "write"}


@pytest.mark.parametrize(
    "line",
    [c for c in ci_command_lines() if "--offline" in c or c.startswith("rmsync validate")],
)
def test_the_offline_commands_run_as_written(line: str, tmp_path: Path) -> None:
    """Parsing is not enough (an offline plan refuses --out in the command, not in its
    options): each validate and plan line runs for real where no tenant is reachable, as on a
    fork's pull request, and ends 0 or 2 (changes)."""
    shutil.copy(ROOT / "examples" / "rmsync.yaml", tmp_path / "rmsync.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAIL_", "GITHUB_"))}
    ran = rmsync(*command_words(line)[1:], cwd=tmp_path, env=env)
    assert ran.code in (0, 2), f"{line}: {ran.err}"


def test_github_forks_plan_offline() -> None:
    script = gh_step("plan", "rmsync plan --offline")["run"]
    offline = "rmsync plan --offline --format markdown --detailed-exitcode > plan.md"
    assert 'if [ "$FORK" = true ] || [ -z "$SAIL_CLIENT_ID" ]; then' in script
    assert script.index("$FORK") < script.index(offline) < script.index("else")
    fork = gh_job("plan")["env"]["FORK"]
    assert fork == "${{ github.event.pull_request.head.repo.full_name != github.repository }}"


def test_github_schedule_runs_rmsync_check_and_keeps_one_issue() -> None:
    on = triggers(github())
    assert on["schedule"] and all("cron" in s for s in on["schedule"])
    assert "workflow_dispatch" in on
    job = gh_job("check")
    assert "github.event_name == 'schedule'" in job["if"]
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    assert gh_step("check", "rmsync check")["run"].count("rmsync check --format markdown") == 1
    issue = gh_step("check", "repos/$GITHUB_REPOSITORY/issues")
    assert "state=closed" in issue["run"] and "--method PATCH" in issue["run"]
    # exit 2 (the manifest asks for it: refresh_after) applies; drift (3) never does unattended
    assert "needs.check.outputs.exitcode == '2'" in gh_job("apply")["if"]


def test_github_archives_are_kept_as_expiring_artifacts_even_when_apply_fails() -> None:
    uploads = [s for s in gh_job("apply")["steps"] if "upload-artifact" in str(s.get("uses"))]
    archives = [s for s in uploads if s["with"]["path"] == "exports/"]
    assert len(archives) == 1 and archives[0]["if"] == "always()"
    assert archives[0]["with"]["retention-days"] == 30


# -- GitHub Actions: the steps' scripts, run ---------------------------------------------------

FAKE_GH = """\
import json, os, sys
from pathlib import Path

state = Path(os.environ["FAKE_GH_STATE"])
data = json.loads(state.read_text())
args = iter(sys.argv[2:])  # after `api`
method, path, fields, paginate = "GET", "", {}, False
for arg in args:
    if arg == "--paginate":
        paginate = True
    elif arg == "--method":
        method = next(args)
    elif arg in ("-F", "-f"):
        key, _, value = next(args).partition("=")
        if arg == "-F" and value.startswith("@"):
            value = Path(value[1:]).read_text()
        fields[key] = value
    elif not arg.startswith("-"):
        path = arg
data["calls"].append({"method": method, "path": path, "fields": fields})
state.write_text(json.dumps(data))
if paginate:  # two pages, printed as gh prints them: arrays back to back
    items = data["items"]
    print(json.dumps(items[:1]) + json.dumps(items[1:]))
"""


def fake_bin(tmp_path: Path) -> Path:
    """A folder for PATH with a fake `gh` (GitHub's API from FAKE_GH_STATE) and `rmsync`."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    gh = folder / "gh"
    gh.write_text(f"#!{sys.executable}\n{FAKE_GH}")
    fake = folder / "rmsync"
    fake.write_text(  # `rmsync SUB`: logs its words, prints $FAKE_SUB_OUT, exits $FAKE_SUB_EXIT
        "#!/bin/bash\n"
        'echo "$*" >> "${FAKE_RMSYNC_LOG:-/dev/null}"\n'
        'sub=$(printf %s "$1" | tr a-z A-Z); out="FAKE_${sub}_OUT"; code="FAKE_${sub}_EXIT"\n'
        'if [ "$1" = apply ]; then\n'
        '  [ -z "${FAKE_DURING_APPLY:-}" ] || bash -c "$FAKE_DURING_APPLY"\n'
        '  echo "# applied" >> rmsync.lock.yaml\n'
        "fi\n"
        '[ -z "${!out:-}" ] || cat "${!out}"\n'
        'exit "${!code:-0}"\n'
    )
    for path in (gh, fake):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder


def shell_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: the fakes first on PATH, git with no user config, no SAIL_*."""
    return {
        "PATH": f"{fake_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Someone",
        "GIT_AUTHOR_EMAIL": "someone@example.invalid",
        "GIT_COMMITTER_NAME": "Someone",
        "GIT_COMMITTER_EMAIL": "someone@example.invalid",
        **extra,
    }


def run_bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """As GitHub runs `shell: bash` (and GitLab's runner its script): bash -eo pipefail."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def gh_calls(state: Path) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = json.loads(state.read_text())["calls"]
    return [c for c in calls if c["method"] != "GET"]


def comment(id_: int, login: str, body: str) -> dict[str, Any]:
    return {"id": id_, "number": id_, "user": {"login": login}, "body": body}


GH_ENV = {
    "GITHUB_REPOSITORY": "acme/roles",
    "GH_TOKEN": "t",
    "PR": "7",
    "HEAD_SHA": "0123456789abcdef",
    "RUN_URL": "https://github.com/acme/roles/actions/runs/42",
}


@pytest.mark.parametrize(
    ("fork", "client_id", "validate_exit", "plan_exit", "plans", "recorded"),
    [
        ("false", "read-id", "0", "2", "plan --format", "2"),
        ("true", "", "0", "0", "plan --offline --format", "0"),  # a fork: no secrets
        ("false", "", "0", "0", "plan --offline --format", "0"),  # no secrets set (Dependabot)
        ("false", "read-id", "0", "1", "plan --format", "1"),
        ("false", "read-id", "1", "0", None, "1"),  # validate failed: no plan
    ],
    ids=["changes", "fork-offline", "no-secrets-offline", "plan-failed", "validate-failed"],
)
def test_github_plan_step_records_the_exit_code_and_plans_offline_without_secrets(
    fork: str,
    client_id: str,
    validate_exit: str,
    plan_exit: str,
    plans: str | None,
    recorded: str,
    tmp_path: Path,
) -> None:
    work, log, output = tmp_path / "work", tmp_path / "rmsync.log", tmp_path / "output"
    work.mkdir()
    env = shell_env(
        tmp_path,
        FORK=fork,
        SAIL_CLIENT_ID=client_id,
        GITHUB_OUTPUT=str(output),
        FAKE_RMSYNC_LOG=str(log),
        FAKE_VALIDATE_EXIT=validate_exit,
        FAKE_PLAN_EXIT=plan_exit,
    )
    result = run_bash(gh_step("plan", "rmsync plan --offline")["run"], work, env)
    assert result.returncode == 0, result.stderr  # the verdict comes after the comment
    assert output.read_text() == f"exitcode={recorded}\n"
    ran = log.read_text().splitlines()
    assert ran[0] == "validate --format github"
    if plans is None:
        assert ran[1:] == []
    else:
        saved = "" if "--offline" in plans else " --out plan.json"  # never an offline plan
        assert ran[1] == f"{plans} markdown --detailed-exitcode{saved}"


@pytest.mark.parametrize(("check_exit", "step_exit"), [(0, 0), (2, 0), (3, 0), (1, 1)])
def test_github_check_step_fails_only_when_check_fails(
    check_exit: int, step_exit: int, tmp_path: Path
) -> None:
    work, output = tmp_path / "work", tmp_path / "output"
    work.mkdir()
    env = shell_env(tmp_path, GITHUB_OUTPUT=str(output), FAKE_CHECK_EXIT=str(check_exit))
    result = run_bash(gh_step("check", "rmsync check")["run"], work, env)
    assert result.returncode == step_exit, result.stdout + result.stderr
    assert output.read_text() == f"exitcode={check_exit}\n"
    assert ("::error title=rmsync::the drift check failed" in result.stdout) is bool(step_exit)


@needs_jq
def test_github_plan_comment_edits_its_own_comment_in_place(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    plan = f"{PLAN_MARKER}\n### rmsync plan: `rmsync.yaml` (v2025)\n\nPlan: 1 to export.\n"
    (work / "plan.md").write_text(plan)
    state = tmp_path / "gh.json"
    items = [
        comment(1, "someone", f"{PLAN_MARKER}\nquoted by a person"),
        comment(2, "github-actions[bot]", "another workflow's comment"),
        comment(3, "github-actions[bot]", f"says {PLAN_MARKER} inside a line"),
        comment(4, "github-actions[bot]", f"{PLAN_MARKER}\r\nthe old plan"),
    ]
    state.write_text(json.dumps({"items": items, "calls": []}))
    env = shell_env(tmp_path, **GH_ENV, FAKE_GH_STATE=str(state), CODE="2", MARKER=PLAN_MARKER)
    result = run_bash(gh_step("plan", "issues/comments/$id")["run"], work, env)
    assert result.returncode == 0, result.stderr
    assert gh_calls(state) == [
        {"method": "PATCH", "path": "repos/acme/roles/issues/comments/4", "fields": {"body": plan}}
    ]


@needs_jq
@pytest.mark.parametrize("plan_md", [None, "", f"{PLAN_MARKER}\n### rmsync plan\n> [!CAUTION]\n"])
def test_github_failed_plan_replaces_the_comment_with_a_failure_note(
    plan_md: str | None, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    if plan_md is not None:
        (work / "plan.md").write_text(plan_md)
    state = tmp_path / "gh.json"
    state.write_text(json.dumps({"items": [], "calls": []}))
    env = shell_env(tmp_path, **GH_ENV, FAKE_GH_STATE=str(state), CODE="1", MARKER=PLAN_MARKER)
    result = run_bash(gh_step("plan", "issues/comments/$id")["run"], work, env)
    assert result.returncode == 0, result.stderr
    (call,) = gh_calls(state)
    assert (call["method"], call["path"]) == ("POST", "repos/acme/roles/issues/7/comments")
    body = call["fields"]["body"].splitlines()
    assert body[:3] == [PLAN_MARKER, "### rmsync plan failed", ""]
    assert "`0123456`" in body[3] and "(https://github.com/acme/roles/actions/runs/42)" in body[3]
    assert body.count(PLAN_MARKER) == 1
    if plan_md and plan_md.startswith(PLAN_MARKER):  # the problems rmsync found come along
        assert body[-1] == "> [!CAUTION]"


@needs_jq
@pytest.mark.parametrize(
    ("code", "open_issue", "expected"),
    [
        ("3", False, [("POST", "repos/acme/roles/issues")]),
        ("3", True, [("PATCH", "repos/acme/roles/issues/5")]),
        (
            "0",
            True,
            [
                ("POST", "repos/acme/roles/issues/5/comments"),
                ("PATCH", "repos/acme/roles/issues/5"),
            ],
        ),
        ("0", False, []),
    ],
    ids=["drift-opens", "drift-updates", "clean-closes", "clean-nothing-open"],
)
def test_github_drift_issue_is_opened_updated_and_closed(
    code: str, open_issue: bool, expected: list[tuple[str, str]], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "check.md").write_text(f"{CHECK_MARKER}\n### rmsync check: drift\n")
    items = [
        {**comment(4, "github-actions[bot]", CHECK_MARKER), "pull_request": {"url": "…"}},
        comment(6, "someone", CHECK_MARKER),
    ]
    if open_issue:
        items.append(comment(5, "github-actions[bot]", f"{CHECK_MARKER}\nold drift"))
    state = tmp_path / "gh.json"
    state.write_text(json.dumps({"items": items, "calls": []}))
    env = shell_env(tmp_path, **GH_ENV, FAKE_GH_STATE=str(state), CODE=code, MARKER=CHECK_MARKER)
    result = run_bash(gh_step("check", "repos/$GITHUB_REPOSITORY/issues")["run"], work, env)
    assert result.returncode == 0, result.stderr
    calls = gh_calls(state)
    assert [(c["method"], c["path"]) for c in calls] == expected
    if code == "3":
        assert calls[0]["fields"]["body"].startswith(f"{CHECK_MARKER}\n### rmsync check: drift\n")
    if code == "0" and open_issue:
        assert calls[1]["fields"] == {"state": "closed", "state_reason": "completed"}


# -- the lockfile push, against real git repositories ------------------------------------------


def git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout


def repositories(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path, Path]:
    """origin (bare, branch main), `seed` (someone else's clone) and `work` (the CI job's)."""
    origin, seed, work = tmp_path / "origin.git", tmp_path / "seed", tmp_path / "work"
    git("init", "--quiet", "--bare", "-b", "main", str(origin), cwd=tmp_path, env=env)
    git("clone", "--quiet", str(origin), str(seed), cwd=tmp_path, env=env)
    (seed / "rmsync.yaml").write_text("version: 1\n")
    (seed / "rmsync.lock.yaml").write_text("version: 1\n# recorded\n")
    git("add", "rmsync.yaml", "rmsync.lock.yaml", cwd=seed, env=env)
    git("commit", "--quiet", "-m", "start", cwd=seed, env=env)
    git("push", "--quiet", "origin", "main", cwd=seed, env=env)
    git("clone", "--quiet", str(origin), str(work), cwd=tmp_path, env=env)
    return origin, seed, work


MOVE_MAIN = (
    "echo 'exports: {}' >> rmsync.yaml && git commit -qam 'a merge' && git push -q origin main"
)
CLASH = "echo '# their record' >> rmsync.lock.yaml && git commit -qam 'a lockfile edit' && git push -q origin main"


def refuse_pushes(origin: Path) -> None:
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'refused by a rule' >&2\nexit 1\n")
    hook.chmod(0o755)


def subjects(origin: Path, env: dict[str, str]) -> list[str]:
    return git("log", "--format=%s", "main", cwd=origin, env=env).splitlines()


PUSH_CASES = ["main-moved", "lockfile-clash", "push-refused"]


@pytest.mark.parametrize("case", PUSH_CASES)
def test_github_lockfile_push_rebases_on_a_moved_branch_or_fails_loudly(
    case: str, tmp_path: Path
) -> None:
    env = shell_env(tmp_path, BRANCH="main")
    origin, seed, work = repositories(tmp_path, env)
    (work / "rmsync.lock.yaml").write_text("version: 1\n# recorded\n# applied\n")  # as apply does
    if case == "push-refused":
        refuse_pushes(origin)
    else:  # another change lands on main while apply runs
        subprocess.run(
            ["bash", "-c", {"main-moved": MOVE_MAIN, "lockfile-clash": CLASH}[case]],
            cwd=seed,
            env=env,
            check=True,
            capture_output=True,
        )
    result = run_bash(gh_step("apply", "git push")["run"], work, env)
    if case == "main-moved":
        assert result.returncode == 0, result.stdout + result.stderr
        assert (
            "main moved; rebasing the lockfile commit onto its tip (attempt 1 of 5)"
            in result.stdout
        )
        assert subjects(origin, env) == ["rmsync: record exports [skip ci]", "a merge", "start"]
        assert git("show", "main:rmsync.lock.yaml", cwd=origin, env=env).endswith("# applied\n")
    else:
        assert result.returncode == 1, result.stdout + result.stderr
        assert "::error title=rmsync::could not push rmsync.lock.yaml to main." in result.stdout
        assert "rmsync: record exports [skip ci]" not in subjects(origin, env)


# -- GitLab CI: structure ----------------------------------------------------------------------


def test_gitlab_script_lines_are_all_strings() -> None:
    """A line with `: ` left unquoted becomes a mapping, which GitLab refuses (the old bug)."""
    for name, job in gitlab().items():
        if isinstance(job, dict):
            for key in ("before_script", "script", "after_script"):
                for item in job.get(key, []):
                    assert isinstance(item, str), f"{name}.{key}: {item!r}"


def test_gitlab_apply_is_serialised_applies_the_tip_and_pushes_in_script() -> None:
    job = gl_job("rmsync-apply")
    assert job["resource_group"] == "rmsync-apply"
    assert "after_script" not in job  # its failure would not fail the job
    assert all("git push" not in gl_script(n, "after_script") for n in gitlab() if n[0] != ".")
    script = job["script"]
    fetch = script.index(
        'git fetch --no-tags origin "+refs/heads/$CI_DEFAULT_BRANCH:refs/remotes/origin/$CI_DEFAULT_BRANCH"'
    )
    tip = script.index('git checkout -B "$CI_DEFAULT_BRANCH" "origin/$CI_DEFAULT_BRANCH"')
    applying = next(i for i, s in enumerate(script) if "rmsync apply --auto-approve" in s)
    assert fetch < tip < applying
    block = script[applying]
    loop = block[block.index("for attempt in 1 2 3 4 5; do") : block.rindex("done")]
    assert "git push" in loop and "git rebase" in loop
    after = block[block.rindex("done") :].splitlines()[1:]
    assert after[0].startswith('echo "ERROR: could not push rmsync.lock.yaml')
    assert after[-1] == "exit 1"
    assert job["variables"]["GIT_DEPTH"] == "0"


def test_gitlab_plans_read_and_only_apply_writes() -> None:
    read = 'export SAIL_CLIENT_ID="${SAIL_READ_CLIENT_ID'
    for name in ("rmsync-plan", "rmsync-check"):
        script = gl_script(name)
        assert read in script and 'SAIL_CLIENT_SECRET="${SAIL_READ_CLIENT_SECRET' in script
        assert script.index(read) < script.index("rmsync ")
        assert "${SAIL_CLIENT_SECRET" not in script and "RMSYNC_PUSH_TOKEN" not in script
    apply = gl_script("rmsync-apply")
    assert 'export SAIL_CLIENT_ID="${SAIL_CLIENT_ID:?' in apply and "SAIL_READ" not in apply
    # no `default:` or `stages:`: included into another pipeline, it changes none of its jobs
    assert "default" not in gitlab() and "stages" not in gitlab()


def test_gitlab_merge_requests_plan_and_comment_by_the_marker() -> None:
    job = gl_job("rmsync-plan")
    assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    script = gl_script("rmsync-plan")
    assert 'python3 /tmp/rmsync_gitlab.py note "$MARKER" comment.md' in script
    assert "rmsync plan --offline --format markdown" in script
    assert "/merge_requests/" in gl_script(".rmsync-api", "before_script")
    assert "--edit-last" not in GITLAB.read_text()


def test_gitlab_schedule_runs_rmsync_check_and_keeps_one_issue() -> None:
    job = gl_job("rmsync-check")
    assert [r["if"] for r in job["rules"]] == [
        '$CI_PIPELINE_SOURCE == "schedule" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
    ]
    script = gl_script("rmsync-check")
    assert "rmsync check --format markdown > check.md" in script
    assert 'python3 /tmp/rmsync_gitlab.py issue "$MARKER" issue.md' in script
    assert 'python3 /tmp/rmsync_gitlab.py issue "$MARKER" -' in script
    assert job["artifacts"]["reports"] == {"dotenv": "check.env"}
    apply = gl_job("rmsync-apply")
    assert apply["needs"] == [{"job": "rmsync-check", "optional": True}]
    assert '[ "${RMSYNC_CHECK_EXIT:-}" != 2 ]' in apply["script"][0]


def test_gitlab_archives_are_kept_as_expiring_artifacts_developers_only() -> None:
    artifacts = gl_job("rmsync-apply")["artifacts"]
    assert artifacts == {
        "when": "always",
        "expire_in": "30 days",
        "access": "developer",
        "paths": ["exports/", "rmsync.lock.yaml"],
    }


# -- GitLab CI: the scripts, run ---------------------------------------------------------------


def gitlab_helper(tmp_path: Path) -> Path:
    """The API helper that .rmsync-api's before_script writes, written here instead."""
    block = gl_job(".rmsync-api")["before_script"][1]
    source = block.split("<<'PY'\n", 1)[1].rsplit("\nPY\n", 1)[0]
    path = tmp_path / "rmsync_gitlab.py"
    path.write_text(source + "\n")
    return path


class FakeGitLab(ThreadingHTTPServer):
    """GitLab's REST API as far as the helper uses it: the token's user, a merge request's
    notes and the project's issues (two a page), and every write."""

    def __init__(self, notes: list[dict[str, Any]], issues: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), _GitLabHandler)
        self.notes, self.issues = notes, issues
        self.writes: list[tuple[str, str, dict[str, str]]] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v4"

    def env(self) -> dict[str, str]:
        return {
            "CI_API_V4_URL": self.url,
            "CI_PROJECT_ID": "5",
            "CI_MERGE_REQUEST_IID": "3",
            "CI_PIPELINE_URL": "https://gitlab.example/acme/roles/-/pipelines/42",
            "CI_JOB_URL": "https://gitlab.example/acme/roles/-/jobs/43",
            "CI_COMMIT_SHORT_SHA": "0123abcd",
            "RMSYNC_NOTE_TOKEN": "note-token",
        }

    def __enter__(self) -> FakeGitLab:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


class _GitLabHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, body: object, next_page: str = "") -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Next-Page", next_page)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        gitlab = cast(FakeGitLab, self.server)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        assert self.headers["PRIVATE-TOKEN"] == "note-token"
        if url.path == "/api/v4/user":
            return self._answer({"id": 9, "username": "project_5_bot"})
        if url.path == "/api/v4/projects/5/merge_requests/3/notes":
            items = gitlab.notes
        elif url.path == "/api/v4/projects/5/issues":
            assert query["state"] == ["opened"]
            items = [i for i in gitlab.issues if i.get("state", "opened") == "opened"]
        else:
            raise AssertionError(f"GET {self.path}")
        page = int(query["page"][0])
        more = page * 2 < len(items)
        self._answer(items[(page - 1) * 2 : page * 2], str(page + 1) if more else "")

    def _write(self) -> None:
        gitlab = cast(FakeGitLab, self.server)
        assert self.headers["PRIVATE-TOKEN"] == "note-token"
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        fields = {k: v[0] for k, v in parse_qs(body).items()}
        gitlab.writes.append((self.command, self.path, fields))
        self._answer({})

    do_POST = do_PUT = _write


def note(id_: int, author: int, body: str | None) -> dict[str, Any]:
    return {"id": id_, "iid": id_, "author": {"id": author}, "body": body, "description": body}


NOTES = "/api/v4/projects/5/merge_requests/3/notes"
ISSUES = "/api/v4/projects/5/issues"


def test_gitlab_helper_edits_its_own_note_found_by_the_marker(tmp_path: Path) -> None:
    helper = gitlab_helper(tmp_path)
    (tmp_path / "comment.md").write_text(f"{PLAN_MARKER}\nthe new plan\n")
    notes = [
        note(1, 9, None),  # a system note has no body to speak of
        note(2, 7, f"{PLAN_MARKER}\na person quoting it"),
        note(3, 9, f"another bot comment, naming {PLAN_MARKER}"),
        note(4, 9, f"{PLAN_MARKER}\r\nthe old plan"),  # on the second page
    ]
    with FakeGitLab(notes, []) as api:
        env = shell_env(tmp_path, **api.env())
        subprocess.run(
            [sys.executable, str(helper), "note", PLAN_MARKER, "comment.md"],
            cwd=tmp_path,
            env=env,
            check=True,
            timeout=60,
        )
        assert api.writes == [("PUT", f"{NOTES}/4", {"body": f"{PLAN_MARKER}\nthe new plan\n"})]


@pytest.mark.parametrize(
    ("action", "open_issue", "expected"),
    [
        ("issue.md", False, [("POST", ISSUES)]),
        ("issue.md", True, [("PUT", f"{ISSUES}/5")]),
        ("-", True, [("POST", f"{ISSUES}/5/notes"), ("PUT", f"{ISSUES}/5")]),
        ("-", False, []),
    ],
    ids=["drift-opens", "drift-updates", "clean-closes", "clean-nothing-open"],
)
def test_gitlab_helper_opens_updates_and_closes_one_issue(
    action: str, open_issue: bool, expected: list[tuple[str, str]], tmp_path: Path
) -> None:
    helper = gitlab_helper(tmp_path)
    (tmp_path / "issue.md").write_text(f"{CHECK_MARKER}\ndrift\n")
    issues = [note(2, 7, CHECK_MARKER), note(3, 9, f"{CHECK_MARKER}\nclosed"), note(4, 9, "other")]
    issues[1]["state"] = "closed"
    if open_issue:
        issues.append(note(5, 9, f"{CHECK_MARKER}\nold drift"))
    with FakeGitLab([], issues) as api:
        env = shell_env(tmp_path, **api.env())
        subprocess.run(
            [sys.executable, str(helper), "issue", CHECK_MARKER, action],
            cwd=tmp_path,
            env=env,
            check=True,
            timeout=60,
        )
        assert [(m, p) for m, p, _ in api.writes] == expected
        if expected and expected[0] == ("POST", ISSUES):
            assert api.writes[0][2] == {
                "title": "rmsync: the tenant drifted from rmsync.lock.yaml",
                "description": f"{CHECK_MARKER}\ndrift\n",
            }
        if action == "-" and open_issue:
            assert api.writes[1][2] == {"state_event": "close"}


@pytest.mark.parametrize(("plan_exit", "job_exit"), [(1, 1), (2, 0)])
def test_gitlab_plan_job_comments_and_fails_only_on_a_failed_plan(
    plan_exit: int, job_exit: int, tmp_path: Path
) -> None:
    helper = gitlab_helper(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    plan = tmp_path / "plan.md"
    plan.write_text(f"{PLAN_MARKER}\n### rmsync plan\n" if plan_exit == 2 else "")
    script = gl_script("rmsync-plan").replace("/tmp/rmsync_gitlab.py", str(helper))
    with FakeGitLab([note(4, 9, f"{PLAN_MARKER}\nthe old plan")], []) as api:
        env = shell_env(
            tmp_path,
            **api.env(),
            MARKER=PLAN_MARKER,
            SAIL_READ_CLIENT_ID="read-id",
            SAIL_READ_CLIENT_SECRET="read-secret",
            FAKE_PLAN_EXIT=str(plan_exit),
            FAKE_PLAN_OUT=str(plan),
        )
        result = run_bash(script, work, env)
        assert result.returncode == job_exit, result.stdout + result.stderr
        ((method, path, fields),) = api.writes
    assert (method, path) == ("PUT", f"{NOTES}/4")
    if plan_exit == 1:
        assert fields["body"].startswith(
            f"{PLAN_MARKER}\n### rmsync plan failed\n\nNo plan for `0123abcd`"
        )
    else:
        assert fields["body"] == plan.read_text()


@pytest.mark.parametrize(
    ("check_exit", "job_exit", "expected"),
    [
        (3, 0, [("POST", ISSUES)]),
        (0, 0, [("POST", f"{ISSUES}/5/notes"), ("PUT", f"{ISSUES}/5")]),
        (2, 0, []),
        (1, 1, []),
    ],
    ids=["drift-opens", "clean-closes", "changes-for-apply", "check-failed"],
)
def test_gitlab_check_job_keeps_one_issue_and_tells_apply(
    check_exit: int, job_exit: int, expected: list[tuple[str, str]], tmp_path: Path
) -> None:
    helper = gitlab_helper(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    report = tmp_path / "check.md"
    report.write_text(f"{CHECK_MARKER}\n### rmsync check\n")
    script = gl_script("rmsync-check").replace("/tmp/rmsync_gitlab.py", str(helper))
    issues = [] if check_exit == 3 else [note(5, 9, f"{CHECK_MARKER}\nold drift")]
    with FakeGitLab([], issues) as api:
        env = shell_env(
            tmp_path,
            **api.env(),
            MARKER=CHECK_MARKER,
            CI_DEFAULT_BRANCH="main",
            SAIL_READ_CLIENT_ID="read-id",
            SAIL_READ_CLIENT_SECRET="read-secret",
            FAKE_CHECK_EXIT=str(check_exit),
            FAKE_CHECK_OUT=str(report),
        )
        result = run_bash(script, work, env)
        assert result.returncode == job_exit, result.stdout + result.stderr
        assert [(m, p) for m, p, _ in api.writes] == expected
        if check_exit == 3:
            assert api.writes[0][2]["description"].startswith(f"{CHECK_MARKER}\n### rmsync check\n")
    assert (work / "check.env").read_text() == f"RMSYNC_CHECK_EXIT={check_exit}\n"


@pytest.mark.parametrize("case", ["main-moved", "apply-failed", "push-refused"])
def test_gitlab_apply_commits_the_lockfile_in_script_and_fails_loudly(
    case: str, tmp_path: Path
) -> None:
    env = shell_env(tmp_path)
    origin, seed, work = repositories(tmp_path, env)
    if case == "push-refused":
        refuse_pushes(origin)
    push_url = "https://rmsync:push-token@gitlab.example/acme/roles.git"
    env |= {
        "CI_PIPELINE_SOURCE": "push",
        "CI_DEFAULT_BRANCH": "main",
        "CI_SERVER_PROTOCOL": "https",
        "CI_SERVER_HOST": "gitlab.example",
        "CI_REPOSITORY_URL": "https://gitlab-ci-token:job-token@gitlab.example/acme/roles.git",
        "RMSYNC_PUSH_TOKEN": "push-token",
        "SAIL_CLIENT_ID": "write-id",
        "SAIL_CLIENT_SECRET": "write-secret",
        # git sends the push URL the job builds to the bare repository here
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.file://{origin}.insteadOf",
        "GIT_CONFIG_VALUE_0": push_url,
        "FAKE_APPLY_EXIT": "1" if case == "apply-failed" else "0",
    }
    if case == "main-moved":  # another merge lands while apply waits for the exports
        env["FAKE_DURING_APPLY"] = f"cd {shlex.quote(str(seed))} && {MOVE_MAIN}"
    result = run_bash(gl_script("rmsync-apply"), work, env)
    out = result.stdout + result.stderr
    if case == "push-refused":
        assert result.returncode == 1, out
        assert "ERROR: could not push rmsync.lock.yaml to main." in result.stdout
        assert subjects(origin, env) == ["start"]
        return
    assert result.returncode == (1 if case == "apply-failed" else 0), out
    expected = [
        "rmsync: record exports [skip ci]",
        *(["a merge"] if case == "main-moved" else []),
        "start",
    ]
    assert subjects(origin, env) == expected
    assert git("show", "main:rmsync.lock.yaml", cwd=origin, env=env).endswith("# applied\n")


def test_gitlab_scheduled_apply_runs_only_when_the_check_asks(tmp_path: Path) -> None:
    first = gl_job("rmsync-apply")["script"][0]
    for check_exit, runs_on in [("2", True), ("3", False), ("0", False)]:
        env = shell_env(tmp_path, CI_PIPELINE_SOURCE="schedule", RMSYNC_CHECK_EXIT=check_exit)
        result = run_bash(first + "\necho going-on\n", tmp_path, env)
        assert result.returncode == 0 and ("going-on" in result.stdout) is runs_on, check_exit
