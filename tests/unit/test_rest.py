"""slurmrestd's JSON (captured from the dev cluster's 22.05.8, OpenAPI v0.0.38) to records, and
options to job fields: pure units on real output."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from pathlib import Path

import pytest

from slurm_lab.errors import BackendUnavailable
from slurm_lab.schedulers.jwt import TokenSource, read_token
from slurm_lab.slurm import rest
from slurm_lab.slurm.directives import UnknownDirective, script_directives

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / f"restd_v0.0.38_{name}.json").read_text())


def test_jobs_read_as_squeue_shows_them() -> None:
    payload = fixture("jobs")
    started = next(j["start_time"] for j in payload["jobs"] if j["job_id"] == 33039)
    jobs = {j.job_id: j for j in rest.parse_jobs(payload, now=started + 9)}
    pending = jobs["33038_[2-5%2]"]  # the array's pending tasks, as one record
    assert (pending.array_job_id, pending.array_task_id, pending.state) == (33038, "2-5%2", "PENDING")
    assert pending.reason == "JobArrayTaskLimit" and pending.start_time is None
    task = jobs["33038_0"]
    assert (task.state, task.nodes, task.time_used, task.time_limit) == ("RUNNING", "vm", "0:09", "UNLIMITED")
    assert task.end_time is None  # slurmrestd's start + 1 year for an unlimited job is no end
    assert task.stdout_path == "/tmp/arr-33038_0.out"  # sbatch's pattern, expanded
    assert jobs["32941_[0-2,4-9]"].array_task_id == "0-2,4-9"
    done = jobs["32938"]
    assert done.stdout_path == "/home/slab-alice/slurm-32938.out"  # the default name
    assert done.stderr_path == "/home/slab-alice/slurm-32938.err"
    assert (done.state, done.reason, done.time_used) == ("COMPLETED", None, "0:02")
    assert jobs["32940"].time_limit == "7-00:00:00" and jobs["32933"].time_limit == "10:00"
    assert jobs["32940"].num_cpus == 1  # from tres_req_str: slurmrestd drops cpus once a job ends
    assert jobs["32933"].name == "<img src=x onerror=alert(1)>" and jobs["32933"].account is None


def test_details_use_scontrol_names_first_and_match_only_the_job_asked_for() -> None:
    payload = fixture("jobs")
    details = rest.parse_job_details(payload, "33038_0")
    assert details is not None and details.user_id == 1001
    assert details.fields["JobState"] == "RUNNING" and details.fields["StdOut"] == "/tmp/arr-33038_0.out"
    assert rest.parse_job_details(payload, "33038_7") is None


def test_one_jobs_progress_from_its_records_alone() -> None:
    payload = fixture("jobs")
    array = {r.job_id: r for r in rest.parse_job_progress(payload, "33038")}
    assert set(array) == {"33038_0", "33038_1", "33038_[2-5%2]"}
    assert (array["33038_0"].state, array["33038_0"].nodes) == ("RUNNING", "vm")
    assert array["33038_0"].start_time is not None and array["33038_[2-5%2]"].state == "PENDING"
    assert [r.job_id for r in rest.parse_job_progress(payload, "33038_1")] == ["33038_1"]
    assert [r.state for r in rest.parse_job_progress(payload, "32938")] == ["COMPLETED"]
    assert rest.parse_job_progress(payload, "3303") == []


def test_partitions_with_idle_cpus_from_the_nodes() -> None:
    parts = {p.name: p for p in rest.parse_partitions(fixture("partitions"), fixture("nodes"))}
    assert parts["debug"].is_default and parts["debug"].max_time == "infinite"
    assert parts["long"].max_time == "7-00:00:00" and not parts["long"].is_default
    assert parts["long"].total_cpus == 2 and parts["long"].nodes == "vm"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("%A_%a.out", "7_3.out"), ("%x-%j", "train-9"), ("100%%", "100%"), ("%5j", "00009"), ("%u@%N", "al@c1")],
)
def test_output_patterns(pattern: str, expected: str) -> None:
    job = {
        "job_id": 9,
        "array_job_id": 7,
        "array_task_id": 3,
        "name": "train",
        "user_name": "al",
        "nodes": "c1,c2",
    }
    assert rest.expand_pattern(pattern, job) == expected


def test_options_become_job_fields_and_what_cannot_be_sent_is_named() -> None:
    fields = rest.job_fields(
        {"time": "1-02:03:04", "mem": "4G", "nodes": "2-4", "job_name": "x", "hold": True, "no_requeue": True}
    )
    assert fields == {
        "time_limit": 1440 + 2 * 60 + 3 + 1, "memory_per_node": 4096, "nodes": [2, 4],
        "name": "x", "hold": True, "requeue": False,
    }  # fmt: skip
    assert rest.job_fields({"time": "30"})["time_limit"] == 30
    assert rest.job_fields({"time": "1:30:00"})["time_limit"] == 90
    with pytest.raises(rest.NotExpressible, match="--tmp cannot be sent"):
        rest.job_fields({"tmp": "20G"})
    with pytest.raises(rest.NotExpressible, match="unlimited"):
        rest.job_fields({"time": "UNLIMITED"})
    with pytest.raises(rest.InvalidValue, match="Invalid --time specification"):
        rest.job_fields({"time": "1:2:3:4"})


def test_sbatch_directives_are_read_as_sbatch_reads_them() -> None:
    script = "#!/bin/bash\n#SBATCH -N2 --time 10\n#SBATCH --job-name=a b\n# plain comment\n#SBATCH -H\n\nhostname\n#SBATCH --mem=1G\n"
    assert script_directives(script) == {"nodes": "2", "time": "10", "job_name": "a", "hold": True}
    with pytest.raises(UnknownDirective) as raised:
        script_directives("#!/bin/sh\n#SBATCH --mem-bind=local\ntrue\n")
    assert raised.value.flag == "--mem-bind"


def test_version_discovery() -> None:
    paths = {f"/slurm/{v}/ping": {} for v in ("v0.0.36", "v0.0.37", "v0.0.38")}
    assert rest.pick_version(rest.offered_versions({"paths": paths})) == "v0.0.38"
    assert rest.pick_version(rest.offered_versions({"paths": {"/slurm/v0.0.40/ping": {}}})) is None


def token(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{body}.sig"


def test_tokens_name_their_source_when_expired_and_files_are_reread(tmp_path: Path) -> None:
    assert read_token(token({"sun": "alice", "exp": 5})).user == "alice"
    assert read_token("not a jwt").user is None
    expired = TokenSource(token({"sun": "alice", "exp": int(time.time()) - 1}), "", None)
    with pytest.raises(BackendUnavailable, match=r"JWT from c\.SlurmrestdScheduler\.token expired"):
        asyncio.run(expired.current())
    path = tmp_path / "jwt"
    path.write_text(token({"sun": "alice", "exp": int(time.time()) + 3600}))
    source = TokenSource("", str(path), None)
    assert asyncio.run(source.current()).user == "alice"
    path.write_text(token({"sun": "bob", "exp": int(time.time()) + 3600}))
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert asyncio.run(source.current()).user == "bob"


def test_a_token_about_to_expire_is_renewed() -> None:
    async def renew() -> str:
        return token({"sun": "alice", "exp": int(time.time()) + 3600})

    source = TokenSource(token({"sun": "alice", "exp": int(time.time()) + 10}), "", renew)
    assert asyncio.run(source.current()).expires or time.time() + 3000 < 0
    assert source.source == "scontrol token (renewed)"


def test_every_slurmrestd_field_of_the_option_table_exists_in_v0_0_38() -> None:
    """The option table's ``rest`` column names fields of slurmrestd's job_properties (captured
    from the dev cluster's /openapi/v3), each with a known conversion."""
    known = set((FIXTURES / "restd_v0.0.38_job_properties.txt").read_text().split())
    for name, (field, _) in rest.REST_FIELDS.items():
        assert field in known, name
    assert {"tmp", "nodelist", "exclude", "export"}.isdisjoint(rest.REST_FIELDS)
