"""%%slurm in real notebooks, executed by a real kernel, against the real dev cluster."""

from __future__ import annotations

import pytest

from slurm_lab.devcluster import DevCluster
from tests.notebooks import execute, kernel_env, notebook, text_of


def job_fields(cluster: DevCluster, job_id: str) -> str:
    import os
    import subprocess

    return subprocess.run(
        ["scontrol", "show", "job", "-o", job_id],
        env={**os.environ, **cluster.env},
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def env(cluster: DevCluster):
    with kernel_env(cluster) as environment:
        yield environment


def test_round_trip_numpy_and_pandas(env: dict[str, str]) -> None:
    nb = execute(
        notebook(
            "%load_ext slurm_lab",
            "import numpy as np, pandas as pd\ndf = pd.DataFrame({'x': range(10), 'y': np.arange(10) ** 2})\narr = np.ones(5)",
            "%%slurm -p debug -t 5 --in df,arr --out summary,total --wait\nimport os\nsummary = df.describe()\ntotal = arr.sum() + df.y.sum()\nos.environ['SLURM_JOB_ID']",
            "assert summary.equals(df.describe()), summary\nassert total == 290.0\nprint('job', _slurm_run.job_id, 'result', _slurm_run.result())",
        ),
        env,
    )
    out = text_of(nb.cells[3])
    assert "job " in out and f"result {out.split()[1]}" in out  # the last expression was the job id


def test_failing_cell_shows_the_remote_traceback_and_the_kernel_lives(env: dict[str, str]) -> None:
    nb = execute(
        notebook(
            "%load_ext slurm_lab",
            "%%slurm --wait\ndef inner():\n    return 1 / 0\ninner()",
            "print('kernel alive')",
            "%%slurm\nraise ValueError('boom')",
            "try:\n    _slurm_run.result(timeout=60)\nexcept Exception as exc:\n    print(type(exc).__name__, '|', exc)",
        ),
        env,
        allow_errors=True,
    )
    failed = text_of(nb.cells[1])
    assert "RemoteError" in failed and "ZeroDivisionError" in failed and "return 1 / 0" in failed
    assert "kernel alive" in text_of(nb.cells[2])
    assert "RemoteError | Traceback" in text_of(nb.cells[4]) and "ValueError: boom" in text_of(nb.cells[4])


def test_array_job_brings_outputs_back_per_task(env: dict[str, str]) -> None:
    nb = execute(
        notebook(
            "%load_ext slurm_lab",
            "base = 10",
            "%%slurm -a 0-3 --in base --out square --wait\nimport os\ntask = int(os.environ['SLURM_ARRAY_TASK_ID'])\nsquare = base + task ** 2\ntask",
            "print(sorted(square.items()), sorted(_slurm_run.result().items()))",
        ),
        env,
    )
    assert "[('0', 10), ('1', 11), ('2', 14), ('3', 19)] [('0', 0), ('1', 1), ('2', 2), ('3', 3)]" in text_of(
        nb.cells[3]
    )


def test_non_blocking_run_lets_other_cells_execute(env: dict[str, str]) -> None:
    nb = execute(
        notebook(
            "%load_ext slurm_lab",
            "%%slurm --out z\nimport time\ntime.sleep(3)\nz = 'from the cluster'",
            "run = _slurm_run\nprint('busy cell ran while job done =', run.done())",
            "run.wait(timeout=90)\nprint(z, run.state)",
        ),
        env,
    )
    assert "busy cell ran while job done = False" in text_of(nb.cells[2])
    assert "from the cluster COMPLETED" in text_of(nb.cells[3])


def test_cancel_from_the_widget(env: dict[str, str]) -> None:
    nb = execute(
        notebook(
            "%load_ext slurm_lab",
            "%%slurm\nimport time\ntime.sleep(120)",
            "from slurm_lab.cells.widgets import JobWidget\nrun = _slurm_run\nwidget = JobWidget(run)\nimport time\n"
            "while run.state != 'RUNNING': time.sleep(0.2)\nwidget.cancel_button.click()",
            "try:\n    run.wait(timeout=60)\nexcept Exception as exc:\n    print(type(exc).__name__, run.state, widget.cancel_button.disabled)",
        ),
        env,
    )
    assert "JobEnded CANCELLED True" in text_of(nb.cells[3])


def test_kernel_restart_then_attach_brings_outputs_back(env: dict[str, str]) -> None:
    first = execute(
        notebook(
            "%load_ext slurm_lab",
            "%%slurm --out answer\nimport time\ntime.sleep(2)\nanswer = 42",
            "print('JOB', _slurm_run.job_id)",
        ),
        env,
    )
    job_id = text_of(first.cells[2]).split()[1]
    # A new kernel process: nothing in memory, only the run record on disk.
    second = execute(
        notebook(
            "%load_ext slurm_lab",
            "%slurm runs",
            f"%slurm attach {job_id} --wait",
            "print('answer =', answer)",
        ),
        env,
    )
    assert job_id in text_of(second.cells[1])
    assert "answer = 42" in text_of(second.cells[3])


def test_bad_options_fail_before_anything_is_submitted(env: dict[str, str], cluster: DevCluster) -> None:
    from tests.helpers import rpc_count

    before = rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB")
    nb = execute(
        notebook(
            "%load_ext slurm_lab",
            "%%slurm -p 'debug;touch /tmp/x'\n1",
            "%%slurm --in not_defined\n1",
            "%%slurm --out a-b\n1",
            "%%slurm --python /usr/bin/python3\n1",
            "%%slurm --python /nonexistent/python\n1",
            "%%slurm --profile nope\n1",
        ),
        env,
        allow_errors=True,
    )
    messages = [text_of(c) for c in nb.cells[1:]]
    assert "options.partition" in messages[0]
    assert "not_defined not defined" in messages[1]
    assert "'a-b' is not a Python variable name" in messages[2]
    assert "no cloudpickle" in messages[3] or "Python 3" in messages[3]
    assert "/nonexistent/python does not run" in messages[4]
    assert "no profile 'nope'" in messages[5]
    assert all("nothing was submitted" in m for m in messages[:5])
    assert rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB") == before


def test_a_hub_user_who_is_not_the_kernels_account_can_use_no_verb(
    env: dict[str, str], cluster: DevCluster
) -> None:
    from tests.helpers import rpc_count

    before = rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB")
    kills = rpc_count(cluster, "REQUEST_KILL_JOB")
    # Every kernel-side verb goes through the server's service: the same refusal, the same words.
    verbs = [
        "%%slurm --wait\n1",
        "import slurm_lab\nslurm_lab.submit('#!/bin/sh\\ntrue\\n', hold=True)",
        "slurm_lab.cancel('1')",
        "slurm_lab.jobs('mine')",
        "%slurm cancel 1",
        "%slurm jobs",
        "from slurm_lab.cells.widgets import QueueManager\nfrom slurm_lab.cells.session import get_session\nQueueManager(get_session(), auto=False)",
    ]
    nb = execute(
        notebook("%load_ext slurm_lab", *verbs), {**env, "JUPYTERHUB_USER": "carol"}, allow_errors=True
    )
    for verb, cell in zip(verbs, nb.cells[1:], strict=True):
        assert "JupyterHub user 'carol' is not the Unix account" in text_of(cell), verb
    assert rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB") == before
    assert rpc_count(cluster, "REQUEST_KILL_JOB") == kills


def test_round_trip_over_ssh(cluster: DevCluster, sshd) -> None:  # type: ignore[no-untyped-def]
    import sys

    from tests.helpers import ssh_config

    config = (
        ssh_config(sshd, cluster)
        + f"\nc.SlurmLab.python = {sys.executable!r}\nc.SlurmLab.runs_dir = '~/slurm-lab-runs'\n"
    )
    with kernel_env(cluster, config) as environment:
        nb = execute(
            notebook(
                "%load_ext slurm_lab",
                "data = {'n': 7}",
                "%%slurm --in data --out who,double --wait\nimport getpass\nwho = getpass.getuser()\ndouble = data['n'] * 2",
                "print(who, double, _slurm_run.record.backend, _slurm_run.record.run_dir)",
            ),
            environment,
        )
    assert "slab-alice 14 ssh /home/slab-alice/slurm-lab-runs/" in text_of(nb.cells[3])


def test_round_trip_over_slurmrestd(cluster: DevCluster) -> None:
    """The same cell through Slurm's REST API: submitted over HTTP with a JWT, files on this machine."""
    import sys

    from tests.helpers import ME, restd_config

    if not cluster.restd_env:
        pytest.skip("slurmrestd is not running in this dev cluster")
    with kernel_env(
        cluster, restd_config(cluster, ME) + f"\nc.SlurmLab.python = {sys.executable!r}\n"
    ) as environment:
        nb = execute(
            notebook(
                "%load_ext slurm_lab",
                "data = {'n': 7}",
                "%%slurm --in data --out who,double --job-name rest-cell --wait\n"
                "import getpass\nwho = getpass.getuser()\ndouble = data['n'] * 2",
                "print(who, double, _slurm_run.record.backend, _slurm_run.job_id)",
            ),
            environment,
        )
    who, double, backend, job_id = text_of(nb.cells[3]).split()
    assert (who, double, backend) == (ME, "14", "slurmrestd")
    assert "JobName=rest-cell" in job_fields(cluster, job_id)


@pytest.mark.parametrize("backend", ["local", "ssh", "slurmrestd"])
def test_hostile_input_through_the_kernel_api_gets_the_rest_apis_words(
    backend: str, cluster: DevCluster, request: pytest.FixtureRequest
) -> None:
    """The REST API's hostile submits, through slurm_lab.submit() in a kernel: the same 400
    message, and nothing reaches Slurm."""
    from tests.helpers import ME, restd_config, rpc_count, ssh_config
    from tests.integration.test_security import HOSTILE_SUBMITS

    config = ""
    if backend == "ssh":
        config = ssh_config(request.getfixturevalue("sshd"), cluster)
    elif backend == "slurmrestd":
        if not cluster.restd_env:
            pytest.skip("slurmrestd is not running in this dev cluster")
        config = restd_config(cluster, ME)
    canary = "/tmp/slurm-lab-kernel-canary"
    cases = [(p["options"], field) for p, field in HOSTILE_SUBMITS if set(p) == {"options"}]
    cells = [
        f"try:\n    slurm_lab.submit('#!/bin/sh\\ntrue\\n', **{ {k: v.format(canary=canary) for k, v in o.items()}!r})\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)"
        for o, _ in cases
    ]
    before = rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB")
    with kernel_env(cluster, config) as environment:
        nb = execute(notebook("import slurm_lab", *cells), environment)
    for (_, field), cell in zip(cases, nb.cells[1:], strict=True):
        assert text_of(cell).startswith(f"InvalidInput {field}:"), (field, text_of(cell))
    assert rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB") == before


def test_profiles_prerun_srun_and_the_python_api(cluster: DevCluster) -> None:
    config = 'c.SlurmLab.profiles = {"quick": {"partition": "long", "time": "5", "job_name": "quick-one"}}'
    with kernel_env(cluster, config) as environment:
        nb = execute(
            notebook(
                "%load_ext slurm_lab\nimport slurm_lab",
                "%%slurm --profile quick --prerun 'export GREETING=hello' --srun='--ntasks=1' --out seen --wait\n"
                "import os\nseen = (os.environ['GREETING'], os.environ.get('SLURM_STEP_ID'), os.environ['SLURM_JOB_PARTITION'])",
                # --wait returns when the result file exists, which can be before Slurm says COMPLETED.
                "import time\nprint(seen)\nwhile (d := slurm_lab.jobs()).loc[_slurm_run.job_id, 'state'] != 'COMPLETED':\n    time.sleep(0.2)\n"
                "print(d.loc[_slurm_run.job_id, ['name', 'partition']].tolist(), type(d).__name__)",
                "jid = slurm_lab.submit('#!/bin/sh\\ntrue\\n', hold=True, job_name='api-job')\n"
                "print(slurm_lab.jobs().loc[jid, 'state'], slurm_lab.cancel(jid)[0].ok)",
            ),
            environment,
        )
    assert "('hello', '0', 'long')" in text_of(nb.cells[2])
    assert "['quick-one', 'long'] DataFrame" in text_of(nb.cells[2])
    assert "PENDING True" in text_of(nb.cells[3])


def test_headless_wait_saves_every_line_and_a_readable_summary(env: dict[str, str]) -> None:
    """Run as nbclient/papermill would: the saved notebook reads like a local one."""
    nb = execute(
        notebook(
            "%load_ext slurm_lab",
            "%%slurm --wait\nimport sys, time\nfor i in range(8):\n    print('step', i, flush=True)\n    time.sleep(0.2)\nprint('to stderr', file=sys.stderr)",
            "%%slurm --wait\nprint('about to fail', flush=True)\nraise KeyError('nope')",
            "runs = %slurm runs\nprint(list(runs.columns))\nprint(runs.iloc[1]['cell'])",
        ),
        env,
        allow_errors=True,
    )
    done = nb.cells[1]
    streams = {o.name: o.text for o in done.outputs if o.output_type == "stream"}
    assert streams["stdout"] == "".join(f"step {i}\n" for i in range(8))  # all 8, the last too
    assert streams["stderr"] == "to stderr\n"
    (shown,) = [o for o in done.outputs if o.output_type == "display_data"]
    plain = shown.data["text/plain"]
    assert plain.startswith("Slurm job ") and " · COMPLETED · " in plain and "JobWidget" not in plain
    failed = text_of(nb.cells[2])
    assert "about to fail" in failed and "KeyError: 'nope'" in failed
    # The remote traceback starts at the cell: none of slurm-lab's own frames.
    assert "worker.py" not in failed and "run_cell" not in failed
    listed = text_of(nb.cells[3])  # %slurm runs names each run's notebook and first line
    assert "'notebook', 'cell'" in listed and "import sys, time" in listed


def test_kernel_verbs_fail_fast_while_the_controller_is_down(
    env: dict[str, str], cluster: DevCluster
) -> None:
    timed = (
        "import time, slurm_lab\n"
        "def attempt(verb):\n"
        "    t = time.monotonic()\n"
        "    try:\n"
        "        out = verb()\n"
        "        print(out[0].reason, round(time.monotonic() - t, 1), out[0].message[:60])\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__, round(time.monotonic() - t, 1), str(exc)[:60])\n"
    )
    cluster.down(("slurmctld",))
    try:
        nb = execute(
            notebook(
                "%load_ext slurm_lab",
                timed,
                "attempt(lambda: slurm_lab.jobs('all'))",
                "attempt(lambda: slurm_lab.cancel('1'))",
                "attempt(lambda: slurm_lab.submit('#!/bin/sh\\ntrue\\n', hold=True))",
            ),
            env,
        )
    finally:
        cluster.up()
    for cell in nb.cells[2:4]:  # raised, or (cancel) a result per id with the same reason
        name, seconds, message = text_of(cell).split(" ", 2)
        assert name in ("ControllerUnavailable", "controller_unavailable"), text_of(cell)
        assert float(seconds) < 3 and "controller" in message.lower()
    # A submit is never cut short, but Slurm's refusal to connect is still the same typed error.
    assert text_of(nb.cells[4]).startswith("ControllerUnavailable")


def test_nodes_and_history_as_dataframes(env: dict[str, str], cluster: DevCluster) -> None:
    import os
    import subprocess

    nb = execute(
        notebook(
            "import slurm_lab\nnodes = slurm_lab.nodes()\nprint(sorted(nodes.index), int(nodes['cpus_total'].sum()))",
            "done = slurm_lab.history('all', 'now-1days')\nprint(done.attrs['source'], len(done) >= 0)",
        ),
        env,
    )
    names = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%N"], env={**os.environ, **cluster.env}, capture_output=True, text=True
    ).stdout.split()
    listed, total = text_of(nb.cells[0]).rsplit("]", 1)
    assert listed + "]" == str(sorted(set(names))) and int(total) > 0
    assert text_of(nb.cells[1]).split()[1] == "True"
