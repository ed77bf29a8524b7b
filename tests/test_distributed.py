"""``haircare batch --scheduler``: on a Dask cluster (a LocalCluster of 2 workers here) the output
is byte-identical to the local run, in input order; a bad line is named and leaves no output;
the partition mapper that ``replay --all`` can use keeps order and reports errors."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from conftest import EXAMPLES

from haircare_expert.cli import main
from haircare_expert.consult import batch, distributed
from haircare_expert.errors import NotFoundError, ProfileError

distributed_pkg = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    # Two single-thread workers in this process: quick to start on a small machine, and the
    # same scheduler, serialisation of tasks and results, and per-worker state as a real cluster.
    with distributed_pkg.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as local:
        yield local.scheduler_address



def lines_for(advisor) -> list[str]:
    """The example profiles, each client renamed: 240 lines."""
    examples = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in EXAMPLES]
    out = []
    for index in range(240):
        profile = dict(examples[index % len(examples)])
        profile["client"] = {**profile.get("client", {}), "name": f"Client {index}"}
        out.append(json.dumps(profile, default=str))
    return out


def test_batch_on_the_cluster_gives_the_local_bytes_in_input_order(tmp_path, advisor, cluster):
    """A consultant running on a cluster gets exactly the file a local run writes, line for line."""
    source, local, remote = tmp_path / "in.jsonl", tmp_path / "local.jsonl", tmp_path / "remote.jsonl"
    source.write_text("\n".join(lines_for(advisor)) + "\n", encoding="utf-8")
    batch.run(source, local, advisor=advisor)
    parts = distributed.batch_parts(str(source), batch.read_lines(source), cluster, advisor, (), size=23)
    with open(remote, "wb") as handle:
        for _, _, text in parts:
            handle.write(text)
    assert remote.read_bytes() == local.read_bytes()
    assert len(local.read_bytes().splitlines()) == 240
    names = [json.loads(line)["client"]["name"] for line in local.read_text(encoding="utf-8").splitlines()]
    assert names == [f"Client {i}" for i in range(240)]


def test_the_command_takes_scheduler_and_names_the_first_bad_line(tmp_path, advisor, cluster):
    """`haircare batch --scheduler` writes the same output as without, and a bad line is FILE:LINE with no output file."""
    source, local, remote = tmp_path / "in.jsonl", tmp_path / "local.jsonl", tmp_path / "remote.jsonl"
    lines = lines_for(advisor)[:30]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["batch", str(source), "-o", str(local)]).exit_code == 0
    done = runner.invoke(main, ["batch", str(source), "-o", str(remote), "--scheduler", cluster])
    assert done.exit_code == 0, done.output
    assert remote.read_bytes() == local.read_bytes()
    lines[21] = '{"hair": {"type": "frizzy"}}'
    bad, out = tmp_path / "bad.jsonl", tmp_path / "bad-out.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        batch.run(bad, out, advisor=advisor, scheduler=cluster)
    assert caught.value.where == f"{bad}:22"
    assert not out.exists()


def test_map_partitions_keeps_order_and_raises_a_task_error(cluster):
    """The mapper replay can use returns each partition's result in input order, and a failing task's error."""
    parts = list(distributed.partitions(range(50), 7))
    assert [len(p) for p in parts] == [7] * 7 + [1]
    assert list(distributed.map_partitions(cluster, sum, parts, in_flight=2)) == [sum(p) for p in parts]
    with pytest.raises(ZeroDivisionError):
        list(distributed.map_partitions(cluster, _divide, [[1], [0]], 10))


def _divide(part, numerator):
    return [numerator / x for x in part]


def test_an_unreachable_scheduler_is_a_one_line_error():
    """A wrong address is a clear error (exit 5), not a traceback or a hang."""
    with pytest.raises(NotFoundError, match="no Dask scheduler answers"):
        distributed.connect("tcp://127.0.0.1:9", timeout="1s")


def test_replay_all_on_the_cluster_finds_what_the_local_replay_finds(tmp_path, advisor, cluster):
    """`haircare replay --all --scheduler` reports the same consultations, grouped by the same rule edit, as the local run."""
    from test_store import edited_rule_folder, record_lines

    lines = record_lines(advisor, 24)
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    assert runner.invoke(main, ["records", "import", str(tmp_path / "records.jsonl")]).exit_code == 0
    same = runner.invoke(main, ["replay", "--all", "--scheduler", cluster])
    assert same.exit_code == 0, same.output
    assert "No consultation would get different advice." in same.stdout
    rule_id = next(r.id for r in advisor.rulebook.rules if r.kind == "recommendation" and "{" not in r.advise
                   and any(a["rule"] == r.id for line in lines for a in json.loads(line)["record"]["advice"]))
    folder = str(edited_rule_folder(tmp_path, advisor.rulebook, rule_id))
    local = runner.invoke(main, ["replay", "--all", "--rules", folder, "--format", "json"])
    remote = runner.invoke(main, ["replay", "--all", "--rules", folder, "--format", "json", "--scheduler", cluster])
    assert local.exit_code == remote.exit_code == 1, remote.output
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    assert [g["rule"] for g in json.loads(remote.stdout)["groups"]] == [rule_id]
    with distributed_pkg.Client(cluster, set_as_default=False) as client:   # it ran there
        assert "replay_partition" in client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    alone = runner.invoke(main, ["replay", "x.json", "--scheduler", cluster])
    assert alone.exit_code == 2 and "--scheduler goes with --all" in alone.stderr
