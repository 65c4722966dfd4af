"""The one table of sbatch options: everything that names an option derives from it."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from slurm_lab import validation
from slurm_lab.cells.magics import SlurmMagics
from slurm_lab.slurm.options import BY_NAME, OPTIONS, openapi_properties


def test_openapi_yaml_holds_the_generated_block() -> None:
    text = files("slurm_lab").joinpath("openapi.yaml").read_text()
    assert openapi_properties() in text, "run: python -m slurm_lab.slurm.options"


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_every_example_passes_its_own_check(option) -> None:  # type: ignore[no-untyped-def]
    value = True if option.kind == "switch" else option.example
    flags = validation.sbatch_flags({option.name: value})
    assert flags == [option.flag if option.kind == "switch" else f"{option.flag}={option.example}"]


def test_names_and_flags_are_unique_and_sbatch_shaped() -> None:
    assert len(BY_NAME) == len(OPTIONS)
    assert len({o.flag for o in OPTIONS}) == len(OPTIONS)
    shorts = [o.short for o in OPTIONS if o.short]
    assert len(set(shorts)) == len(shorts)
    for o in OPTIONS:
        assert re.fullmatch(r"--[a-z][a-z-]+", o.flag) and o.flag[2:].replace("-", "_") == o.name, o.name


def test_the_magic_offers_exactly_the_cell_options_with_sbatchs_flags() -> None:
    parser = SlurmMagics.slurm.parser  # type: ignore[attr-defined]
    for o in OPTIONS:
        strings = {s for a in parser._actions if a.dest == o.name for s in a.option_strings}
        assert strings == ({f for f in (o.short, o.flag) if f} if o.cell else set()), o.name
    args = parser.parse_args(["-p", "long", "-c", "4", "--exclusive", "-G", "a100:1"])
    assert (args.partition, args.cpus_per_task, args.exclusive, args.gpus) == ("long", "4", True, "a100:1")


def test_options_users_missed_are_there() -> None:
    flags = validation.sbatch_flags(
        {"signal": "B:USR1@120", "gpus_per_node": "2", "gpus_per_task": 1, "cpus_per_gpu": 8,
         "mem_per_gpu": "40G", "tmp": "20G", "wckey": "analysis", "open_mode": "append",
         "kill_on_invalid_dep": "yes", "spread_job": True}
    )  # fmt: skip
    assert flags == ["--signal=B:USR1@120", "--gpus-per-node=2", "--gpus-per-task=1", "--cpus-per-gpu=8",
                     "--mem-per-gpu=40G", "--tmp=20G", "--wckey=analysis", "--open-mode=append",
                     "--kill-on-invalid-dep=yes", "--spread-job"]  # fmt: skip
    for bad in ({"signal": "USR1;id"}, {"open_mode": "overwrite"}, {"kill_on_invalid_dep": "maybe"}):
        with pytest.raises(validation.InvalidInput):
            validation.sbatch_flags(bad)
