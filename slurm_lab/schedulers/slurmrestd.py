"""Slurm through its REST API (slurmrestd with JWT): how hubs on Kubernetes reach Slurm without
a munge key in every pod. Files (job output, %%slurm runs) need a host; without one, 501."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx
import orjson
from traitlets import Dict, Float, Int, Unicode

from ..errors import (
    BackendUnavailable,
    CommandFailed,
    CommandTimeout,
    ControllerUnavailable,
    JobFinished,
    JobNotFound,
    NotSupported,
    SlurmLabError,
    SlurmRejected,
    UnexpectedOutput,
)
from ..hosts import Host
from ..models import (
    ActionResult,
    ClusterStatus,
    History,
    Job,
    JobDetails,
    JobProgress,
    Node,
    Partition,
    Priority,
    Scope,
    SubmitResult,
)
from ..slurm import rest
from ..slurm.diagnose import diagnose
from ..slurm.directives import UnknownDirective, script_directives
from ..slurm.options import OPTIONS
from .base import Action, Scheduler, as_historic
from .jwt import TokenSource

_BY_FLAG = {o.flag: o for o in OPTIONS}
#: Seconds the probe waits for ``GET ping`` (a frozen slurmctld would hold it for 10 s).
PING_DEADLINE = 1.0
#: Requests in flight for one action, and most pending tasks of one row acted on task by task.
_PARALLEL_ACTIONS = 8
_MAX_TASKS_PER_ROW = 1000
T = TypeVar("T")


class SlurmrestdScheduler(Scheduler):
    """``c.SlurmLab.backend = "slurmrestd"`` plus these settings."""

    name = "slurmrestd"

    url = Unicode(
        "",
        config=True,
        help="""Where slurmrestd listens: an http(s) URL or "unix:/path/to/socket". Required.
        Default: "". Example: c.SlurmrestdScheduler.url = "https://slurm-rest.cluster.org:6820" """,
    )
    token = Unicode(
        "",
        config=True,
        help="""The JWT to send (X-SLURM-USER-TOKEN). Empty means token_file, else $SLURM_JWT.
        Default: "". Example: c.SlurmrestdScheduler.token = os.environ["MY_SLURM_TOKEN"]""",
    )
    token_file = Unicode(
        "",
        config=True,
        help="""File holding the JWT, re-read whenever it changes (e.g. a rotated Kubernetes
        secret). Default: "". Example: c.SlurmrestdScheduler.token_file = "/run/secrets/slurm-jwt" """,
    )
    username = Unicode(
        "",
        config=True,
        help="""The user Slurm acts as (X-SLURM-USER-NAME). Empty means the token's "sun" claim.
        Default: "". Example: c.SlurmrestdScheduler.username = "alice" """,
    )
    renew_lifespan = Int(
        3600,
        config=True,
        help="""Lifespan, in seconds, asked of `scontrol token` (run on the host) when the token
        is about to expire; 0 never renews (a site that mints tokens elsewhere).
        Default: 3600. Example: c.SlurmrestdScheduler.renew_lifespan = 0""",
    )
    api_version = Unicode(
        "",
        config=True,
        help="""OpenAPI version to speak ("v0.0.38", "v0.0.37" or "v0.0.36"). Empty means the
        newest that slurmrestd offers and slurm-lab speaks. Default: "".
        Example: c.SlurmrestdScheduler.api_version = "v0.0.37" """,
    )
    request_timeout = Float(
        30.0,
        config=True,
        help="""Seconds one request to slurmrestd may take (then 504). Default: 30.
        Example: c.SlurmrestdScheduler.request_timeout = 60""",
    )
    assumed_min_job_age = Float(
        300.0,
        config=True,
        help="""The cluster's MinJobAge in seconds (slurmrestd does not report it): how long a
        finished job can still be found when a submit's answer was lost. Default: 300.
        Example: c.SlurmrestdScheduler.assumed_min_job_age = 600""",
    )
    job_environment = Dict(
        default_value={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help="""Environment a job starts with: slurmrestd passes no submitter's environment
        (sbatch passes the whole of it), and the server's own must not leak into jobs.
        Default: {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}.
        Example: c.SlurmrestdScheduler.job_environment = {"PATH": "/opt/conda/bin:/usr/bin:/bin"}""",
    )

    def __init__(self, host: Host | None = None, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        if not self.url:
            raise ValueError("c.SlurmrestdScheduler.url is required when c.SlurmLab.backend = 'slurmrestd'")
        renew = self._renew_token if host is not None and self.renew_lifespan > 0 else None
        self.tokens = TokenSource(self.token, self.token_file, renew)
        if self.url.startswith("unix:"):
            transport = httpx.AsyncHTTPTransport(uds=self.url[5:])
            self._client = httpx.AsyncClient(base_url="http://slurmrestd", transport=transport)
        else:
            self._client = httpx.AsyncClient(base_url=self.url.rstrip("/"))
        self._version: str | None = self.api_version or None
        self._versions_checked = False
        self._user = self.username
        self._cluster: str | None = None
        self._release: str | None = None

    # ------------------------------------------------------------- transport
    @property
    def user(self) -> str:
        if self._user:
            return self._user
        return self.tokens.user or ""

    async def _renew_token(self) -> str:
        assert self.host is not None
        result = await self.host.run_slurm(["scontrol", "token", f"lifespan={self.renew_lifespan}"])
        for line in result.stdout.splitlines():
            if line.startswith("SLURM_JWT="):
                return line.split("=", 1)[1].strip()
        raise RuntimeError((result.stderr or result.stdout).strip()[:200] or "no token printed")

    async def _request(
        self, method: str, path: str, body: Any = None, timeout: float | None = None, versioned: bool = True
    ) -> dict[str, Any]:
        """One request; transport and HTTP failures become typed errors naming slurmrestd."""
        token = await self.tokens.current()
        user = self.username or token.user or ""
        if versioned:
            path = f"/slurm/{await self.version()}/{path}"
        headers = {"X-SLURM-USER-NAME": user, "X-SLURM-USER-TOKEN": token.value}
        content = orjson.dumps(body) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._client.request(
                method, path, content=content, headers=headers, timeout=timeout or self.request_timeout
            )
        except httpx.TimeoutException:
            raise CommandTimeout(
                f"slurmrestd at {self.url} did not answer {method} {path} "
                f"within {timeout or self.request_timeout:g} s"
            ) from None
        except (httpx.TransportError, OSError) as exc:
            raise BackendUnavailable(
                f"cannot reach slurmrestd at {self.url}: {exc} (is slurmrestd running?)"
            ) from None
        try:
            payload = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            if response.status_code >= 400:
                raise self._http_error(response.status_code, [response.text.strip()[:200]])
            raise UnexpectedOutput(f"slurmrestd answered {method} {path} with something that is not JSON")
        if response.status_code >= 400:
            by_slurm = bool(rest.slurm_error_codes(payload))
            raise self._http_error(response.status_code, rest.errors_of(payload), by_slurm)
        return payload

    def _http_error(self, status: int, errors: list[str], by_slurm: bool = False) -> SlurmLabError:
        """A typed error for an HTTP failure; ``by_slurm`` when Slurm itself refused (ESLURM_*)."""
        text = "; ".join(errors) or f"HTTP {status}"
        if status == 401:
            return BackendUnavailable(
                f"slurmrestd at {self.url} refused the credentials ({text}); check the JWT from "
                f"{self.tokens.source} and c.SlurmrestdScheduler.username"
            )
        error = diagnose("slurmrestd", 1, text)
        if type(error) is CommandFailed and by_slurm:
            return SlurmRejected(text)
        if type(error) is CommandFailed and status != 500:
            return CommandFailed(f"slurmrestd answered {status}: {text}")
        if type(error) is CommandFailed:
            # slurmrestd 22.05 answers a bad, expired or another user's token with a bare 500.
            return BackendUnavailable(
                f"slurmrestd at {self.url} answered {status} ({text}); the JWT from {self.tokens.source} "
                "may be invalid, expired or another user's"
            )
        return error

    async def version(self) -> str:
        """The OpenAPI version to use: configured, or discovered once from ``/openapi/v3``."""
        if self._version is None or not self._versions_checked:
            offered = rest.offered_versions(await self._request("GET", "/openapi/v3", versioned=False))
            chosen = self._version if self._version in offered else rest.pick_version(offered)
            if chosen is None or (self.api_version and self.api_version not in offered):
                raise BackendUnavailable(
                    f"slurmrestd at {self.url} offers {', '.join(offered) or 'no Slurm API'}; slurm-lab "
                    f"speaks {', '.join(rest.SUPPORTED_VERSIONS)}"
                )
            self._version, self._versions_checked = chosen, True
        return self._version

    # ------------------------------------------------------------- queries
    async def _jobs_payload(self) -> dict[str, Any]:
        payload = await self._request("GET", "jobs")
        jobs = payload.get("jobs") or []
        if jobs and isinstance(jobs[0], dict):
            self._cluster = jobs[0].get("cluster") or self._cluster
        return payload

    async def list_jobs(self, scope: Scope) -> list[Job]:
        payload = await self._jobs_payload()
        jobs = _parsed(lambda: rest.parse_jobs(payload))
        return jobs if scope == "all" else [j for j in jobs if j.user == self.user]

    async def job_details(self, job_id: str) -> JobDetails:
        base = job_id.split("_")[0]
        try:
            payload = await self._request("GET", f"job/{base}")
        except JobNotFound:
            raise JobNotFound(f"no such job {job_id} (Slurm: Invalid job id specified)") from None
        details = _parsed(lambda: rest.parse_job_details(payload, job_id))
        if details is None:
            raise JobNotFound(f"no such job {job_id} (Slurm: Invalid job id specified)")
        return details

    async def job_progress(self, job_id: str) -> list[JobProgress]:
        """``GET job/{id}``: that job alone, not the queue."""
        try:
            payload = await self._request("GET", f"job/{job_id.split('_')[0]}")
        except JobNotFound:
            return []  # the controller forgot it: it has finished
        return _parsed(lambda: rest.parse_job_progress(payload, job_id))

    async def partitions(self) -> list[Partition]:
        partitions, nodes = await asyncio.gather(
            self._request("GET", "partitions"), self._request("GET", "nodes")
        )
        return _parsed(lambda: rest.parse_partitions(partitions, nodes))

    async def probe(self) -> SlurmLabError | None:
        try:
            payload = await self._request("GET", "ping", timeout=PING_DEADLINE)
        except BackendUnavailable as exc:
            return exc
        except CommandTimeout:
            return ControllerUnavailable(
                f"Slurm controller unavailable (slurmrestd ping: no answer within {PING_DEADLINE:g} s)"
            )
        except SlurmLabError as exc:
            return ControllerUnavailable(f"Slurm controller unavailable (slurmrestd ping: {exc.message})")
        pings = payload.get("pings") or []
        if pings and all(p.get("ping") == "UP" for p in pings[:1]):
            return None
        return ControllerUnavailable("Slurm controller unavailable (slurmrestd ping: not responding)")

    async def status(self) -> ClusterStatus:
        problem = await self.probe()
        if isinstance(problem, BackendUnavailable):
            raise problem
        if problem is None:
            ping = await self._request("GET", "ping")
            self._release = ((ping.get("meta") or {}).get("Slurm") or {}).get("release") or self._release
            if self._cluster is None:
                await self._jobs_payload()  # once: only job records name the cluster
        return ClusterStatus(
            backend=self.backend,
            cluster_name=self._cluster,
            slurm_version=self._release,
            user=self.user,
            controller="up" if problem is None else "down",
            message=problem.message if problem else "",
        )

    async def history(self, scope: Scope, since: str) -> History:
        finished = [as_historic(j) for j in await self.list_jobs(scope) if j.end_time and j.end_time >= since]
        return History(
            finished,
            "controller",
            "accounting is not read through slurmrestd; showing finished jobs the controller still "
            "remembers (MinJobAge)",
        )

    async def nodes(self) -> list[Node]:
        payload = await self._request("GET", "nodes")
        return _parsed(lambda: rest.parse_nodes(payload))

    async def priorities(self) -> list[Priority]:
        """From the job records (slurmrestd 22.05 has no sprio): priorities, no factors."""
        payload = await self._jobs_payload()
        return _parsed(lambda: rest.parse_priorities(payload))

    async def find_submitted(self, tag: str) -> str | None:
        for job in (await self._jobs_payload()).get("jobs") or []:
            if job.get("user_name") == self.user and tag in str(job.get("comment") or "").split():
                return str(job.get("array_job_id") or job.get("job_id"))
        return None

    async def min_job_age(self) -> float:
        return self.assumed_min_job_age

    # ------------------------------------------------------------- changes
    async def submit(self, script: bytes, flags: Sequence[str], tag: str | None = None) -> SubmitResult:
        text = script.decode("utf-8")
        if not text.startswith("#!"):  # sbatch's own check, which slurmrestd does not make
            raise SlurmRejected(
                "This does not look like a batch script. The first line must start with #! followed "
                "by the path to an interpreter. For instance: #!/bin/sh"
            )
        try:
            options: dict[str, str | bool] = dict(script_directives(text))
        except UnknownDirective as exc:
            raise NotSupported(
                f"the script's #SBATCH {exc.flag} is not among the options slurm-lab can send through "
                "slurmrestd (which ignores #SBATCH lines itself); pass it another way or remove it"
            ) from None
        options.update(_options_of(flags))  # the request's options win, as on sbatch's command line
        if tag is not None:
            options["comment"] = f"{options['comment']} {tag}" if options.get("comment") else tag
        try:
            fields = rest.job_fields(options)
        except rest.NotExpressible as exc:
            raise NotSupported(str(exc)) from None
        except rest.InvalidValue as exc:
            raise SlurmRejected(str(exc)) from None
        if "current_working_directory" not in fields:
            fields["current_working_directory"] = await self._default_workdir()
        fields["environment"] = dict(self.job_environment)
        payload = await self._request("POST", "job/submit", {"script": text, "job": fields})
        job_id = payload.get("job_id")
        if not isinstance(job_id, int) or job_id <= 0:
            raise diagnose("sbatch", 1, "; ".join(rest.errors_of(payload)) or "slurmrestd returned no job id")
        return SubmitResult(str(job_id))

    async def _default_workdir(self) -> str:
        """sbatch starts a job where it was run; the host's home is the nearest equivalent."""
        if self.host is not None:
            return await self.host.make_dir("~")
        raise NotSupported("without a host, a job submitted through slurmrestd needs the chdir option")

    async def act(self, action: Action, job_ids: Sequence[str]) -> list[ActionResult]:
        """One request per job (per task, for a collapsed row of pending tasks), a few at once."""
        gate = asyncio.Semaphore(_PARALLEL_ACTIONS)

        async def one(task: str) -> None:
            async with gate:
                await self._check_task_exists(task)
                if action == "cancel":
                    await self._request("DELETE", f"job/{task}")
                else:
                    await self._request("POST", f"job/{task}", {"hold": action == "hold"})

        results = []
        for job_id in job_ids:
            try:
                tasks = rest.task_ids(job_id, _MAX_TASKS_PER_ROW)
                await asyncio.gather(*(one(t) for t in tasks))
                results.append(ActionResult(job_id, True))
            except rest.NotExpressible as exc:
                results.append(ActionResult(job_id, False, str(exc), NotSupported.reason))
            except (ControllerUnavailable, BackendUnavailable) as exc:
                results.append(ActionResult(job_id, False, exc.message, exc.reason))
            except JobFinished as exc:
                ok = action == "cancel"  # DELETE is idempotent
                results.append(
                    ActionResult(
                        job_id, ok, "already finished" if ok else exc.message, "" if ok else exc.reason
                    )
                )
            except SlurmLabError as exc:
                results.append(ActionResult(job_id, False, exc.message, exc.reason))
        return results

    async def _check_task_exists(self, job_id: str) -> None:
        """slurmrestd answers an update of a missing array task with success: ask first."""
        array, sep, task = job_id.partition("_")
        if sep and not rest.has_task(await self._request("GET", f"job/{array}"), int(task)):
            raise JobNotFound(f"no such job {job_id} (Slurm: Invalid job id specified)")

    async def close(self) -> None:
        await self._client.aclose()
        await super().close()


def _options_of(flags: Sequence[str]) -> dict[str, str | bool]:
    """sbatch flags built by validation.sbatch_flags, back to options by name."""
    out: dict[str, str | bool] = {}
    for flag in flags:
        name, eq, value = flag.partition("=")
        option = _BY_FLAG[name]
        out[option.name] = value if eq else True
    return out


def _parsed(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnexpectedOutput(
            f"slurmrestd answered with JSON slurm-lab cannot read: {str(exc)[:200]}"
        ) from None
