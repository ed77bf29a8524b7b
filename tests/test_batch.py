"""``haircare batch``: JSON lines in, one compact contract JSON per line out, in input order; the
same bytes with any number of worker processes; each line equal to ``advise --format json``."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import profile_strategy

from haircare_expert.cli import main
from haircare_expert.consult import batch
from haircare_expert.errors import ExitCode, ProfileError


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="haircare")


@pytest.fixture(scope="module")
def profiles(advisor):
    """A few hundred varied valid profiles (drawn once, reproducibly)."""
    drawn = []

    @settings(max_examples=300, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(profile=profile_strategy(advisor.vocabulary, client=True))
    def collect(profile):
        drawn.append(profile)

    collect()
    return drawn


def write_lines(path, profiles, blank_every: int = 0):
    with open(path, "w", encoding="utf-8") as handle:
        for index, profile in enumerate(profiles):
            if blank_every and index % blank_every == 0:
                handle.write("\n")
            handle.write(json.dumps(profile, ensure_ascii=False, default=str) + "\n")


def test_each_line_is_the_advise_json_of_its_profile_in_input_order(tmp_path, advisor, profiles):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(source, profiles[:40], blank_every=7)
    result = run("batch", source, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "40 profile(s) advised" in result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40
    for line, profile in zip(lines, profiles[:40]):
        data = json.loads(line)
        assert line == json.dumps(data, ensure_ascii=False, separators=(",", ":"))  # compact
        assert data == advisor.consult(profile).to_json()


def test_a_batch_line_equals_haircare_advise_json_for_an_example(tmp_path):
    from haircare_expert.yamlio import load_file
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(source, [load_file(p, ProfileError) for p in EXAMPLES])
    assert run("batch", source, "-o", out).exit_code == 0
    for line, example in zip(out.read_text(encoding="utf-8").splitlines(), EXAMPLES):
        advised = run("advise", example, "--format", "json")
        assert json.loads(line)["advice"] == json.loads(advised.stdout)["advice"]


@pytest.mark.parametrize("jobs", [2, 3])
def test_worker_processes_give_the_same_bytes_as_one(tmp_path, profiles, jobs):
    source = tmp_path / "in.jsonl"
    write_lines(source, profiles)
    one, many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    batch.run(source, one, jobs=1, chunk=17)
    batch.run(source, many, jobs=jobs, chunk=17)
    assert one.read_bytes() == many.read_bytes()
    assert len(one.read_bytes().splitlines()) == len(profiles)


def test_progress_reports_lines_done_up_to_the_last_line(tmp_path, profiles):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(source, profiles[:50], blank_every=10)
    seen = []
    result = batch.run(source, out, chunk=8, progress=seen.append)
    assert result.profiles == 50
    assert seen == sorted(seen) and seen[-1] == batch.count_lines(source) == 55


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_first_bad_line_is_named_and_no_output_is_left(tmp_path, profiles, jobs):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [json.dumps(p) for p in profiles[:60]]
    lines[44] = '{"hair": {"type": "frizzy"}}'
    lines[52] = "not json"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        batch.run(source, out, jobs=jobs, chunk=5)
    assert caught.value.where == f"{source}:45"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_an_empty_input_gives_an_empty_output(tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n\n", encoding="utf-8")
    assert batch.run(source, out).profiles == 0
    assert out.read_bytes() == b""


@settings(max_examples=30, derandomize=True, database=None, deadline=None)
@given(data=st.data())
def test_parse_line_accepts_what_json_dumps_writes(advisor, data):
    profile = data.draw(profile_strategy(advisor.vocabulary, client=True))
    raw = (json.dumps(profile, ensure_ascii=False) + "\n").encode("utf-8")
    assert batch.parse_line(raw, "x:1") == profile


def test_spawned_workers_build_their_own_advisor_and_agree(tmp_path, profiles, monkeypatch):
    """Where processes cannot fork (Windows, macOS defaults), each worker compiles the rules."""
    source, forked, spawned = tmp_path / "in.jsonl", tmp_path / "fork.jsonl", tmp_path / "spawn.jsonl"
    write_lines(source, profiles[:60])
    batch.run(source, forked, jobs=2, chunk=20)
    monkeypatch.setattr(batch.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    batch.run(source, spawned, jobs=2, chunk=20)
    assert spawned.read_bytes() == forked.read_bytes()


# -- signals: a killed batch leaves no worker running and (after the next run) no temp file -----
def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc; a zombie is dead)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to find the workers")
@pytest.mark.parametrize("sig, jobs", [(signal.SIGTERM, 2), (signal.SIGKILL, 2), (signal.SIGTERM, 1)],
                         ids=["SIGTERM", "SIGKILL", "SIGTERM-one-process"])
def test_a_killed_batch_leaves_no_worker_and_no_temp_file(tmp_path, sig, jobs):
    """`kill`, `timeout` or a service manager stopping `batch --jobs 2`: the workers go within
    5 s; SIGTERM cleans up and exits 143; after SIGKILL the next run clears the temp file."""
    lines = [json.dumps(yaml.safe_load(p.read_text()), default=str) for p in EXAMPLES]
    (tmp_path / "in.jsonl").write_text("\n".join(lines[i % len(lines)] for i in range(40_000)) + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "haircare_expert", "batch", "in.jsonl", "-o",
                             "out.jsonl", "--jobs", str(jobs)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        started = _wait_for(lambda: len(_children(proc.pid)) >= (jobs if jobs > 1 else 0)
                            and list(tmp_path.glob(".out.jsonl.*.tmp")), 120)
        assert started and proc.poll() is None, proc.communicate()
        workers = _children(proc.pid)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _wait_for(lambda: not any(_alive(w) for w in workers), 5), "a worker outlived its batch"
    assert not (tmp_path / "out.jsonl").exists()
    if sig == signal.SIGTERM:
        assert proc.returncode == ExitCode.TERMINATED
        assert err.decode() == "Error: terminated\n"
        assert not list(tmp_path.glob(".out.jsonl.*"))
    else:
        assert proc.returncode == -signal.SIGKILL
        assert list(tmp_path.glob(".out.jsonl.*.tmp"))     # no one could clean up: the next run does
    (tmp_path / "two.jsonl").write_text("\n".join(lines[:2]) + "\n")
    with contextlib.chdir(tmp_path):
        assert run("batch", "two.jsonl", "-o", "out.jsonl").exit_code == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2
    assert not list(tmp_path.glob(".out.jsonl.*"))


def test_the_next_run_removes_only_temp_files_whose_writer_is_gone(tmp_path):
    """A temp file of a live writer (a concurrent run) is kept; a dead one's is removed."""
    dead = tmp_path / ".out.jsonl.999999999.abcdefgh.tmp"     # beyond any pid_max
    live = tmp_path / f".out.jsonl.{os.getppid()}.abcdefgh.tmp"
    other = tmp_path / ".out.jsonl.notes"
    for path in (dead, live, other):
        path.write_text("partial")
    (tmp_path / "in.jsonl").write_text('{"hair": {"type": "curly"}}\n')
    with contextlib.chdir(tmp_path):
        assert run("batch", "in.jsonl", "-o", "out.jsonl").exit_code == 0
    assert not dead.exists() and live.exists() and other.exists()


def test_an_advice_changed_after_encoding_is_written_as_it_now_is(advisor, profiles):
    """A caller who edits a consultation's advice (steps, sources, text) and encodes it again
    gets the JSON of the edited advice, not the text written for the advice before."""
    encode = batch.Encoder()
    consultation = next(c for c in map(advisor.consult, profiles[:50]) if c.advice)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def expected():
        return dumps(consultation.to_json()).encode("utf-8")

    assert encode(consultation) == expected()
    advice = consultation.advice[0]
    advice.steps.append("Rinse with cool water.")
    advice.sources.append({"source": "x", "section": "y"})
    advice.matched_facts.append("f-extra")
    assert encode(consultation) == expected()
    advice.steps[-1] = 1
    assert encode(consultation) == expected()
    advice.steps[-1] = True
    assert encode(consultation) == expected()
    advice.steps[-1] = "Rinse with cool water."
    advice.sources[-1]["section"] = 2
    assert encode(consultation) == expected()
    advice.text = "Changed text."
    assert encode(consultation) == expected()


def test_a_batch_of_one_chunk_starts_no_worker_and_the_first_chunk_is_advised_here(tmp_path, profiles, monkeypatch):
    """With --jobs 2 the first chunk is advised by the batch process itself before any worker
    forks (they inherit what it warmed): a batch that fits in one chunk starts no worker, and a
    longer one still gives the bytes of one process."""
    import concurrent.futures

    source, one, many = tmp_path / "in.jsonl", tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    write_lines(source, profiles[:30])
    batch.run(source, one, jobs=1, chunk=30)

    def no_pool(*args, **kwargs):
        raise AssertionError("a worker pool was started")

    with monkeypatch.context() as patch:
        patch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
        batch.run(source, many, jobs=2, chunk=30)
    assert many.read_bytes() == one.read_bytes()
    submitted = []
    real = concurrent.futures.ProcessPoolExecutor

    class Counting(real):
        def submit(self, fn, name, part):
            submitted.append(part[0][0])
            return super().submit(fn, name, part)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Counting)
    batch.run(source, many, jobs=2, chunk=7)
    assert many.read_bytes() == one.read_bytes()
    assert submitted == [8, 15, 22, 29]     # lines 1-7 were advised here
