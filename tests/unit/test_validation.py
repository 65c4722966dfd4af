"""Allow-list validation: hostile input never reaches a command."""

from __future__ import annotations

from datetime import datetime

import pytest

from slurm_lab import validation
from slurm_lab.errors import InvalidInput

HOSTILE = ["1;ls", "١٢", "1\n2", "$(id)", "`id`", "-1", "1 2", "../1", "1_", "", "１",
           # The CLIs truncate ids to 32 bits: 2**32 + 10935 would act on job 10935.
           "4294967296", "4294978231", "4294967294", "4294967295", "99999999999", "0", "007",
           "1_4000001", "1_01", "12_99999999", "1_[]", "1_[1-]", "1_[,1]", "1_[4000001]", "1_[1]x",
           "1_[1;2]", "1_[" + ",".join(["1"] * 101) + "]"]  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE)
def test_job_id_rejects(value: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validation.job_id(value)
    assert err.value.field == "job_id"


@pytest.mark.parametrize(
    "value", ["1", "123456", "42_7", "4294967293", "7_0", "7_4000000", "64_[2-9]", "64_[0,3-5]"]
)
def test_job_id_accepts(value: str) -> None:
    assert validation.job_id(value) == value


def test_a_collapsed_rows_throttle_is_dropped() -> None:
    assert validation.job_id("64_[2-9%2]") == "64_[2-9]"


def test_sbatch_flags_build_exact_flags() -> None:
    flags = validation.sbatch_flags(
        {"partition": "debug", "time": "1-00:00:00", "nodes": 2, "mem": "4G", "hold": True,
         "exclusive": False, "job_name": "<img src=x onerror=alert(1)>", "array": "1-10%2",
         "dependency": "afterok:12:13", "constraint": "a|b", "output": "logs/%x-%j.out", "gpus": None}
    )  # fmt: skip
    assert flags == [
        "--partition=debug", "--time=1-00:00:00", "--nodes=2", "--mem=4G", "--hold",
        "--job-name=<img src=x onerror=alert(1)>", "--array=1-10%2", "--dependency=afterok:12:13",
        "--constraint=a|b", "--output=logs/%x-%j.out",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"bogus": "1"}, "options.bogus"),
        ({"partition": "debug;ls"}, "options.partition"),
        ({"partition": "-debug"}, "options.partition"),
        ({"job_name": "a\nb"}, "options.job_name"),
        ({"job_name": "$(touch /tmp/x)"}, "options.job_name"),
        ({"job_name": "`id`"}, "options.job_name"),
        ({"output": "/tmp/$(id)"}, "options.output"),
        ({"chdir": "--wrap=id"}, "options.chdir"),
        ({"time": "1:00; rm"}, "options.time"),
        ({"nodes": "1e9"}, "options.nodes"),
        ({"hold": "yes"}, "options.hold"),
        ({"nodes": True}, "options.nodes"),
        ({"nodes": 1.5}, "options.nodes"),
        ({"export": "A=$(id)"}, "options.export"),
        ("partition=debug", "options"),
    ],
)
def test_sbatch_flags_reject(options: object, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validation.sbatch_flags(options)
    assert err.value.field == field
    assert err.value.message.startswith(field)


def test_script_limits() -> None:
    assert validation.script("#!/bin/sh\necho hi\n", 100) == b"#!/bin/sh\necho hi\n"
    for bad in ["", "   ", None, 3, "#!/bin/sh\n\x00"]:
        with pytest.raises(InvalidInput):
            validation.script(bad, 100)
    with pytest.raises(InvalidInput, match="limit is 10"):
        validation.script("#!/bin/sh\n" + "x" * 10, 10)


def test_states_and_partitions() -> None:
    assert validation.states("pd,R,completed") == {"PENDING", "RUNNING", "COMPLETED"}
    assert validation.states(None) is None
    with pytest.raises(InvalidInput, match="state"):
        validation.states("RUNNING,;ls")
    assert validation.partitions("debug,long") == {"debug", "long"}
    with pytest.raises(InvalidInput, match="partition"):
        validation.partitions("debug long")


def test_small_fields() -> None:
    assert validation.scope(None) == "mine" and validation.scope("all") == "all"
    assert validation.stream("stderr") == "stderr"
    assert validation.offset("123") == 123
    for call, value in [
        (validation.scope, "everyone"),
        (validation.stream, "stdin"),
        (validation.offset, "-1"),
    ]:
        with pytest.raises(InvalidInput):
            call(value)
    assert validation.idempotency_key("abc-123:x") == "abc-123:x"
    with pytest.raises(InvalidInput):
        validation.idempotency_key("a b")
    assert validation.job_ids(["1", "2_3"]) == ["1", "2_3"]
    with pytest.raises(InvalidInput, match=r"job_ids\[1\]"):
        validation.job_ids(["1", "x"])


def test_since() -> None:
    now = datetime(2026, 11, 21, 12, 0, 0)
    assert validation.since("now-2days", now) == "2026-11-19T12:00"
    assert validation.since(None, now) == "2026-11-20T12:00"
    assert validation.since("2026-11-01T08:00") == "2026-11-01T08:00"
    with pytest.raises(InvalidInput, match="since"):
        validation.since("yesterday; rm -rf")


@pytest.mark.parametrize("value", ["2026-13-45", "2026-02-30", "2026-11-01T25:00", "2026-11-01T08:61"])
def test_since_must_be_a_real_date(value: str) -> None:
    with pytest.raises(InvalidInput, match=r"since: .* not a date"):
        validation.since(value)
