"""Parsers on output captured from the real dev cluster (Slurm 22.05.8)."""

from __future__ import annotations

from slurm_lab.slurm import argv, parsers
from tests.conftest import fixture_text


def test_queue_parses_every_record_including_awkward_names() -> None:
    jobs = {j.job_id: j for j in parsers.parse_queue(fixture_text("squeue_all.txt"))}
    assert list(jobs) == ["4", "3", "2_[1-5]", "1", "5", "7", "6_[0-3]", "8"]
    assert jobs["7"].name == "multi\nline"  # a newline in a name cannot split a record
    assert jobs["1"].name == "hello <b>x</b> a"
    assert jobs["3"].name == "a_very_long_job_name_that_exceeds_twenty_chars_for_sure_yes"
    arr = jobs["6_[0-3]"]
    assert (arr.array_job_id, arr.array_task_id, arr.state, arr.reason) == (
        6,
        "0-3",
        "PENDING",
        "JobHeldUser",
    )
    assert jobs["4"].array_job_id is None and jobs["4"].array_task_id is None
    done = jobs["1"]
    assert done.state == "COMPLETED" and done.nodes == "vm" and done.time_used == "0:02"
    assert done.stdout_path == "/work/main/slurm-1.out" and done.account is None
    assert jobs["8"].partition == "long" and jobs["8"].time_limit == "7-00:00:00"
    assert jobs["8"].start_time is None


def test_queue_rejoins_a_name_holding_the_field_separator() -> None:
    record = fixture_text("squeue_all.txt").split(argv.RECORD_SEP)[0]
    fields = record.split(argv.FIELD_SEP)
    fields[3] = "a" + argv.FIELD_SEP + "b"
    (job,) = parsers.parse_queue(argv.FIELD_SEP.join(fields) + argv.RECORD_SEP + "\n")
    assert job.name == "a\x1fb" and job.user == "root"


def test_empty_queue() -> None:
    assert parsers.parse_queue("") == []


def test_key_values_keep_spaces_and_odd_keys() -> None:
    fields = parsers.parse_key_values(fixture_text("scontrol_show_job_running.txt"))
    assert fields["JobId"] == "4" and fields["JobState"] == "RUNNING"
    assert fields["AllocNode:Sid"] == "localhost:1022"
    assert fields["CPUs/Task"] == "1" and fields["ReqB:S:C:T"] == "0:0:*:*"
    assert fields["StdOut"] == "/tmp/slurm-4.out" and fields["Power"] == ""


def test_free_text_names_cannot_forge_keys() -> None:
    line = fixture_text("scontrol_show_job_running.txt").replace(
        "JobName=runner", "JobName=a <img src=x> UserId=evil x=1"
    )
    fields = parsers.parse_key_values(line)
    assert fields["JobName"] == "a <img src=x> UserId=evil x=1"
    assert fields["UserId"] == "root(0)" and fields["JobState"] == "RUNNING"


def test_job_details() -> None:
    details = parsers.parse_job_details(fixture_text("scontrol_show_job_array.txt"), "2")
    assert details.source == "controller" and details.fields["ArrayJobId"] == "2"


def test_partitions() -> None:
    text = "debug\x1fup\x1finfinite\x1fn/a\x1f1\x1f1/1/0/2\x1fvm\x1fdebug*\nlong\x1fup\x1f7-00:00:00\x1fn/a\x1f1\x1f1/1/0/2\x1fvm\x1flong\n"
    debug, long_ = parsers.parse_partitions(text)
    assert debug.is_default and not long_.is_default
    assert long_.max_time == "7-00:00:00" and debug.default_time is None
    assert (debug.idle_cpus, debug.allocated_cpus, debug.total_cpus) == (1, 1, 2)


def test_partition_lines_are_summed() -> None:
    line = "p\x1fup\x1finfinite\x1fn/a\x1f{n}\x1f{a}/{i}/0/{t}\x1f{nodes}\x1fp*"
    text = "\n".join(
        [line.format(n=1, a=1, i=1, t=2, nodes="a"), line.format(n=2, a=0, i=4, t=4, nodes="b[1-2]")]
    )
    (p,) = parsers.parse_partitions(text)
    assert (p.total_nodes, p.idle_cpus, p.total_cpus, p.nodes) == (3, 5, 6, "a,b[1-2]")


def test_jobcomp_log_keeps_names_with_spaces() -> None:
    text = fixture_text("jobcomp.txt").replace("Name=wrap", "Name=w Partition=x JobState=y")
    jobs = {j.job_id: j for j in parsers.parse_jobcomp("partial line\n" + text)}
    assert jobs["5"].name == "w Partition=x JobState=y" and jobs["5"].state == "FAILED"
    assert jobs["1"].name == "hello <b>x</b> a" and jobs["1"].state == "COMPLETED"
    assert jobs["1"].user == "root" and jobs["1"].end_time == "2026-11-21T05:36:46"


def test_sacct_history() -> None:
    text = "1|hello|root|debug|COMPLETED|0:0|2026-11-21T05:36:44|2026-11-21T05:36:44|2026-11-21T05:36:46|00:00:02|1|vm|/work\n"
    text += "2|a|b|alice|debug|CANCELLED by 0|0:15|N/A|Unknown|Unknown|00:00:00|1|None assigned|/w\n"
    one, two = parsers.parse_history(text)
    assert one.state == "COMPLETED" and one.elapsed == "00:00:02"
    assert two.name == "a|b" and two.state == "CANCELLED" and two.start_time is None


def test_small_outputs() -> None:
    assert parsers.parse_sbatch_job_id("42\n") == "42"
    assert parsers.parse_sbatch_job_id("42;cluster\n") == "42"
    assert parsers.parse_ping("Slurmctld(primary) at vm is UP\n")
    assert not parsers.parse_ping("Slurmctld(primary) at vm is DOWN\n")
    assert parsers.parse_version("slurm-wlm 22.05.8\n") == "22.05.8"
    assert parsers.parse_config("ClusterName             = devcluster\nX = a b\n") == {
        "ClusterName": "devcluster",
        "X": "a b",
    }


def test_durations() -> None:
    assert parsers.durations_to_seconds("1-02:03:04") == 93784
    assert parsers.durations_to_seconds("0:02") == 2
    assert parsers.durations_to_seconds("30") == 1800
    assert parsers.durations_to_seconds("UNLIMITED") is None
