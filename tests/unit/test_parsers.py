"""Parsers on output captured from the real dev cluster (Slurm 22.05.8)."""

from __future__ import annotations

import pytest

from slurm_lab.errors import JobNotFound, UnexpectedOutput
from slurm_lab.models import JobProgress
from slurm_lab.slurm import argv, parsers
from tests.conftest import fixture_text

NONCE = "TESTNONCE"  # squeue_all.txt was captured with argv.queue_format("TESTNONCE")


def test_queue_parses_every_record_including_hostile_names_and_paths() -> None:
    jobs = {j.job_id: j for j in parsers.parse_queue(fixture_text("squeue_all.txt"), NONCE)}
    assert set(jobs) == {"2", "11_[0]", "14", "15_[1-5]", "16", "17", "18", "19"}
    assert jobs["16"].name == "multi\nline"  # a newline in a name cannot split a record
    assert jobs["17"].name == "hello <b>x</b> a"
    # Another user's job built to trip the parser: the separators of a fixed format, in its
    # name and output paths, land in those fields and nowhere else.
    assert jobs["18"].name == "a\x1eb" and jobs["18"].user == "slab-bob" and jobs["18"].user_id == 1002
    bob = jobs["19"]
    assert bob.name == "x\x1fy\x1f\x1f" and bob.state == "PENDING" and bob.reason == "JobHeldUser"
    assert bob.stdout_path == "/tmp/bobdir/o\x1fut\x1e.txt" and bob.stderr_path == "/tmp/bobdir/e\nrr"
    assert bob.work_dir == "/tmp/bobdir" and bob.qos is None
    arr = jobs["15_[1-5]"]
    assert (arr.array_job_id, arr.array_task_id, arr.state, arr.reason) == (
        15,
        "1-5",
        "PENDING",
        "JobHeldUser",
    )
    assert jobs["14"].array_job_id is None and jobs["14"].array_task_id is None
    running = jobs["14"]
    assert running.state == "RUNNING" and running.nodes == "vm" and running.user == "slab-alice"
    assert running.stdout_path == "/tmp/slurm-14.out" and running.account is None and running.num_cpus == 1
    assert jobs["17"].partition == "long" and jobs["17"].time_limit == "7-00:00:00"
    assert jobs["17"].start_time is None


def test_a_record_forged_with_another_calls_separators_is_skipped_not_misread() -> None:
    text = fixture_text("squeue_all.txt")
    text_sep, record_sep = argv.queue_separators(NONCE)
    records = text.split(record_sep)
    # A name holding this very call's separators (it cannot know them: they are random per
    # call): the record no longer splits into the expected fields and is dropped, alone.
    forged = records[0].replace("x\x1fy", "x" + text_sep + "y", 1)
    jobs = parsers.parse_queue(record_sep.join([forged, *records[1:]]), NONCE)
    assert "19" not in {j.job_id for j in jobs} and len(jobs) == len(records) - 2
    # The same text read with another nonce has no record it understands: a typed error.
    with pytest.raises(UnexpectedOutput):
        parsers.parse_queue(text, "OTHERNONCE")


def test_queue_format_puts_user_text_last_behind_the_nonce() -> None:
    fmt = argv.queue_format("N0NCE")
    assert fmt.startswith("JobArrayID:\x1f,") and fmt.endswith("STDERR:\x1eN0NCE")
    assert fmt.count("\x1fN0NCE") == len(argv.QUEUE_TEXT_FIELDS)
    assert [n for n, _ in argv.QUEUE_TEXT_FIELDS] == ["Name", "WorkDir", "STDOUT", "STDERR"]


def test_empty_queue() -> None:
    assert parsers.parse_queue("", NONCE) == []
    assert parsers.parse_queue("\n", NONCE) == []


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
    assert details.user_id == 0


def test_job_details_are_about_exactly_the_job_asked_for() -> None:
    text = fixture_text("scontrol_show_job_array_running.txt")  # array 20: tasks 0, 1 run, 2-3 wait
    assert parsers.parse_job_details(text, "20_1").fields["JobId"] == "22"
    assert parsers.parse_job_details(text, "20_0").fields["JobId"] == "21"
    assert parsers.parse_job_details(text, "22").fields["ArrayTaskId"] == "1"
    assert parsers.parse_job_details(text, "20").fields["ArrayTaskId"] == "2-3"
    assert parsers.parse_job_details(text, "20").user_id == 1001
    # A queue row of pending tasks collapsed: the array's pending record, whatever the set now is.
    assert parsers.parse_job_details(text, "20_[2-3]").fields["ArrayTaskId"] == "2-3"
    running = text.replace("JobState=PENDING", "JobState=RUNNING")
    with pytest.raises(JobNotFound, match="have all started"):
        parsers.parse_job_details(running, "20_[2-3]")
    # What scontrol printed for 4294967316 (2**32 + 20): job 20. Never served as that job.
    for other in ["4294967316", "20_9", "21_0", "2"]:
        with pytest.raises(UnexpectedOutput, match="answered about"):
            parsers.parse_job_details(text, other)


def test_tagged_job_lookup() -> None:
    record_sep = argv.queue_separators("N")[1]
    text = f"7\x1f(null){record_sep}\n8\x1fnightly slurm-lab:ab12{record_sep}\n9\x1fslurm-lab:ab123{record_sep}\n"
    assert parsers.parse_tagged_job(text, "N", "slurm-lab:ab12") == "8"
    assert parsers.parse_tagged_job(text, "N", "slurm-lab:ffff") is None


def test_munge_socket_from_slurm_conf() -> None:
    conf = "AuthType=auth/munge\nAuthInfo=cred_expire=30,socket=/var/run/m/munge.sock # x\n"
    assert parsers.parse_munge_socket(conf) == "/var/run/m/munge.sock"
    assert parsers.parse_munge_socket("AuthType=auth/munge\n") == parsers.DEFAULT_MUNGE_SOCKET


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
    """Real sacct output (tests/fixtures/sacct_history.txt): a name with a '|' and a newline, an
    array, steps folded into their job with the efficiency they give."""
    text = fixture_text("sacct_history.txt")
    odd, one, two = parsers.parse_history(text, "FIXTURE")
    assert odd.name == "odd|name\ntwo" and odd.work_dir == "/tmp" and odd.state == "COMPLETED"
    assert (one.job_id, two.job_id, two.nodes) == ("54529_1", "54529_2", "c2")
    eff = odd.efficiency
    assert eff is not None and eff.max_rss_bytes == 168620 * 1024 and eff.time_limit_seconds == 600
    assert eff.memory_requested_bytes == 400 << 20 and eff.cpu_efficiency == pytest.approx(6.19 / 6, 0.01)
    assert eff.suggestions == {"mem": "300M", "time": "5"}


def test_sacct_history_ignores_a_forged_separator() -> None:
    """A name holding another call's separator (or this machine's FIELD_SEP) stays a name."""
    text = fixture_text("sacct_history.txt").replace("odd|name", "x\x1fFORGED|\x1f1")
    assert parsers.parse_history(text, "FIXTURE")[0].name == "x\x1fFORGED|\x1f1\ntwo"


def test_accounted_job_reads_like_scontrol() -> None:
    details = parsers.parse_accounted_job(fixture_text("sacct_history.txt"), "FIXTURE", "54528")
    assert details is not None and details.source == "accounting" and details.user_id == 0
    assert details.fields["JobState"] == "COMPLETED" and details.fields["TimeLimit"] == "00:10:00"
    assert details.fields["UserId"] == "root(0)" and details.efficiency is not None
    assert parsers.parse_accounted_job(fixture_text("sacct_history.txt"), "FIXTURE", "9") is None


def test_accounted_job_cancelled_while_pending_without_a_time_limit() -> None:
    """sacct prints its limit as "Partition_Limit" (captured: a job cancelled before it ran)."""
    details = parsers.parse_accounted_job(fixture_text("sacct_cancelled_pending.txt"), "FIXTURE", "69768")
    assert details is not None and details.fields["JobState"] == "CANCELLED"
    assert details.fields.get("TimeLimit", "") == "" and details.efficiency is not None
    assert details.efficiency.time_limit_seconds is None


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


def test_nodes_with_gpus_in_use_and_a_down_reason() -> None:
    from slurm_lab.slurm.parsers import gpu_count, parse_nodes

    nodes = {n.name: n for n in parse_nodes(fixture_text("scontrol_show_node_site.txt"))}
    assert sorted(nodes) == ["c1", "c2", "c3", "c4", "vm"]
    c3 = nodes["c3"]
    assert (c3.gpus_total, c3.gpus_allocated, c3.cpus_total, c3.memory_total_mb) == (2, 0, 2, 2000)
    assert c3.partitions == ["debug", "long", "gpu"] and c3.state == "allocated"
    assert nodes["vm"].gpus_total == 0 and nodes["vm"].features is None and nodes["vm"].reason is None
    line = "NodeName=c2 CPUAlloc=0 CPUTot=2 State=DOWN* RealMemory=2000 Reason=Not responding [slurm@2026-11-21T15:00:00]"
    (down,) = parse_nodes(line)
    assert down.state == "down*" and down.reason == "Not responding [slurm@2026-11-21T15:00:00]"
    assert gpu_count("gpu:a100:1(IDX:0),gpu:v100:2(IDX:1-2)") == 3


def test_account_limits_with_their_use_from_assoc_mgr_and_sshare() -> None:
    from slurm_lab.slurm.account import parse_account

    info = parse_account(
        fixture_text("scontrol_show_assoc_mgr.txt"), fixture_text("sshare.txt"), "slab-alice", 1001
    )
    accounts = {a.account: a for a in info.associations}
    assert set(accounts) == {"physics", "biology"} and accounts["physics"].is_default
    assert accounts["physics"].fairshare == 0.333333 and accounts["biology"].fairshare == 1.0
    (limited,) = info.qos  # only QOS with a limit set; "normal" has none
    limits = {lim.name: lim for lim in limited.limits}
    assert limited.name == "limited" and limits["MaxSubmitJobsPU"].limit == 3
    assert limits["GrpTRESMins cpu"].limit == 600 and limits["GrpTRESMins cpu"].left == 600


def test_one_jobs_progress_from_scontrol_show_job_of_that_job_alone() -> None:
    """``argv.scontrol_job`` output captured from the dev cluster: a running job, a pending one
    (with a long name), a finished one still remembered, and an array with running tasks and a
    record for its pending ones."""
    running = parsers.parse_job_progress(fixture_text("scontrol_show_job_running.txt"), "4")
    assert running == [JobProgress("4", "RUNNING", "2026-11-21T05:38:21", "vm")]
    pending = parsers.parse_job_progress(fixture_text("scontrol_show_job_pending.txt"), "3")
    assert pending == [JobProgress("3", "PENDING", None, None)]  # StartTime=Unknown, NodeList=
    done = parsers.parse_job_progress(fixture_text("scontrol_show_job_completed.txt"), "64428")
    assert [(r.state, r.nodes) for r in done] == [("COMPLETED", "c1")]
    array = parsers.parse_job_progress(fixture_text("scontrol_show_job_array_running.txt"), "20")
    assert [(r.job_id, r.state, r.nodes) for r in array] == [
        ("20_[2-3]", "PENDING", None),
        ("20_1", "RUNNING", "vm"),
        ("20_0", "RUNNING", "vm"),
    ]
    task = parsers.parse_job_progress(fixture_text("scontrol_show_job_array_running.txt"), "20_1")
    assert [r.job_id for r in task] == ["20_1"]


def test_job_progress_keeps_only_the_job_asked_for_and_refuses_what_it_cannot_read() -> None:
    # Another job's record (the CLIs truncate ids) is no record of this one: none means gone.
    assert parsers.parse_job_progress(fixture_text("scontrol_show_job_running.txt"), "44") == []
    assert parsers.parse_job_progress(fixture_text("scontrol_show_job_array_running.txt"), "21") == []
    assert parsers.parse_job_progress("", "4") == []
    with pytest.raises(ValueError):
        parsers.parse_job_progress("JobId=4 JobName=x UserId=a(1) GroupId=a(1) Reason=None\n", "4")
