"""Seeded hostile requests for the REST API: odd bytes, huge ids, aliases of real jobs, bad JSON.

Used by the fuzz test and by benchmarks/bench_hostile.py. Every request is a plain
``(method, path, params, body)``; bodies are bytes so broken JSON and broken UTF-8 go out as is.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from slurm_lab.validation import SBATCH_OPTIONS

ODD_TEXT = [
    "", " ", "-1", "0", "007", "1_", "_1", "1__2", "1 2", "1\n2", "1;id", "$(id)", "`id`", "%00", "%2F",
    "../../etc/passwd", "١٢٣", "１２", "1e3", "0x10", "NaN", "null", "[]", "{}", "✓", "\u202e1",
    "a" * 5000, "9" * 40, "'", '"', "\\", "*", "?", "#", "&", "=", "+", "@", "~", "\x7f",
]  # fmt: skip
STATES = ["R", "PD", "running", "RUNNING,PD", "bogus", "CD,CA,F,TO", ""]


@dataclass
class Target:
    """Jobs the requests may name: the fuzzer's own, the other user's, and ones never to alias."""

    mine: list[str] = field(default_factory=list)  # made by the fuzz itself: fair game
    others: list[str] = field(default_factory=list)  # another user's: Slurm must refuse us
    protected: list[str] = field(default_factory=list)  # only ever named through 32-bit aliases


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: bytes | None


def _text(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(ODD_TEXT)
    if pick < 0.8:
        return "".join(chr(rng.choice([rng.randrange(0, 32), rng.randrange(32, 127), rng.randrange(0x80, 0x3000)]))
                       for _ in range(rng.randrange(1, 30)))  # fmt: skip
    return str(rng.randrange(0, 10 ** rng.randrange(1, 25)))


def _job_id(rng: random.Random, target: Target) -> str:
    pick = rng.random()
    if pick < 0.25 and target.protected:  # the same job, 2**32 * k further on: must be refused
        return str(int(rng.choice(target.protected).split("_")[0]) + 2**32 * rng.randrange(1, 1000))
    if pick < 0.4 and target.others:
        return rng.choice(target.others)
    if pick < 0.55 and target.mine:
        return rng.choice(target.mine)
    if pick < 0.7:
        return f"{rng.randrange(10**8, 4294967293)}"  # well-formed, not a job
    if pick < 0.8:
        base = rng.choice(target.mine or ["1"]) if rng.random() < 0.5 else str(rng.randrange(1, 10**6))
        return f"{base.split('_')[0]}_{rng.choice([0, 99, 4000000, 4000001, 10**9])}"
    return _text(rng)


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 1.5, 1e308])
    if kind in (3, 4):
        return _text(rng)
    if kind == 5:
        return [_json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_text(rng)[:20]: _json_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _submit(rng: random.Random, seed: int) -> Request:
    pick = rng.random()
    if pick < 0.15:  # well-formed and held, sometimes retried with the same key
        key = f"fuzz-{seed}-{rng.randrange(40)}"
        body = {"script": "#!/bin/sh\ntrue\n", "options": {"hold": True, "job_name": f"fuzz-{seed}"}}
        if rng.random() < 0.7:
            body["idempotency_key"] = key
        return Request("POST", "jobs", {}, json.dumps(body).encode())
    if pick < 0.55:
        name = rng.choice([*SBATCH_OPTIONS, _text(rng)[:30]])
        body = {"script": rng.choice(["#!/bin/sh\ntrue\n", _text(rng), "x\x00y"]),
                "options": {name: _json_value(rng)}, "idempotency_key": _json_value(rng)}  # fmt: skip
        return Request("POST", "jobs", {}, json.dumps(body).encode())
    if pick < 0.75:
        return Request("POST", "jobs", {}, json.dumps(_json_value(rng)).encode())
    raw = rng.choice([b"{not json", b"\xff\xfe{}", b'{"script": "\xed\xa0\x80"}', b"[" * 10000, b""])
    return Request("POST", "jobs", {}, raw)


def hostile_requests(seed: int, count: int, target: Target) -> list[Request]:
    """``count`` requests drawn from ``seed``; the same seed and target give the same list."""
    rng = random.Random(seed)
    out: list[Request] = []
    for _ in range(count):
        pick = rng.random()
        job = _job_id(rng, target)
        if pick < 0.15:
            params = {
                k: rng.choice([_text(rng), *STATES]) for k in rng.sample(["scope", "state", "partition"], 2)
            }
            if rng.random() < 0.3:
                params["scope"] = rng.choice(["mine", "all"])
            out.append(Request("GET", "jobs", params, None))
        elif pick < 0.3:
            out.append(Request("GET", f"jobs/{job}", {}, None))
        elif pick < 0.4:
            out.append(Request("DELETE", f"jobs/{job}", {}, None))
        elif pick < 0.5:
            out.append(Request("POST", f"jobs/{job}/{rng.choice(['hold', 'release'])}", {}, None))
        elif pick < 0.6:
            params = {"stream": rng.choice(["stdout", "stderr", _text(rng)]),
                      "offset": rng.choice(["0", "-1", str(2**70), _text(rng)])}  # fmt: skip
            out.append(Request("GET", f"jobs/{job}/output", params, None))
        elif pick < 0.7:
            ids: Any = [_job_id(rng, target) for _ in range(rng.choice([1, 2, 5, 1001]))]
            body = {"action": rng.choice(["cancel", "hold", "release", _text(rng)]),
                    "job_ids": ids if rng.random() < 0.9 else _json_value(rng)}  # fmt: skip
            out.append(Request("POST", "jobs/actions", {}, json.dumps(body).encode()))
        elif pick < 0.85:
            out.append(_submit(rng, seed))
        elif pick < 0.93:
            since = rng.choice(["2026-13-45", "2026-02-30", "now-99999days", "now-1days", _text(rng)])
            out.append(
                Request("GET", "history", {"since": since, "scope": rng.choice(["mine", "all", "x"])}, None)
            )
        else:
            method = rng.choice(["GET", "PUT", "PATCH", "DELETE", "POST"])
            path = rng.choice(
                ["partitions", "status", "openapi.yaml", "jobs/actions", f"jobs/{job}/x", _text(rng)]
            )
            out.append(Request(method, path, {}, None))
    return out
