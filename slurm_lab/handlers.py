"""REST API under ``{base_url}slurm-lab/api/``: parse and validate, call the service, map errors.

Every verb is ``@web.authenticated`` + ``@authorized`` on one resource; jupyter_server enforces
XSRF on POST/DELETE under cookie auth. Typed errors become JSON ``{"message", "reason"}`` with the
status from :data:`STATUS` — the only place that maps errors to HTTP.
"""

from __future__ import annotations

import dataclasses
import logging
from asyncio import Future
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import orjson
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from . import errors, validation
from ._version import __version__
from .models import ActionResult
from .queue import RenderedJobs
from .service import SlurmLabService
from .slurm import options

AUTH_RESOURCE = "slurm_lab"
API_PREFIX = "slurm-lab/api"

STATUS: dict[type[errors.SlurmLabError], int] = {
    errors.InvalidInput: 400,
    errors.SlurmRejected: 400,
    errors.PermissionDenied: 403,
    errors.UnknownUser: 403,
    errors.OutputRefused: 403,
    errors.JobNotFound: 404,
    errors.OutputNotAvailable: 404,
    errors.IdempotencyConflict: 409,
    errors.JobFinished: 409,
    errors.AccountingDisabled: 501,
    errors.NotSupported: 501,
    errors.CommandFailed: 502,
    errors.UnexpectedOutput: 502,
    errors.ControllerUnavailable: 503,
    errors.AccountingUnavailable: 503,
    errors.BackendUnavailable: 503,
    errors.CommandTimeout: 504,
}
ERROR_BY_REASON = {cls.reason: cls for cls in STATUS}

log = logging.getLogger("slurm_lab.handlers")


def status_of(error: errors.SlurmLabError) -> int:
    """The HTTP status of a typed error: its own class's, else its nearest base's."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 502


def error_body(error: errors.SlurmLabError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": error.message, "reason": error.reason}
    body.update(error.extra)
    return body


def to_json(obj: Any) -> bytes:
    return orjson.dumps(obj)


class JsonErrors(web.RequestHandler):
    """Errors answered as JSON ``{"message", "reason"}`` with their status, never a traceback; and
    queue listings. Mixed in before a handler's own base (slurm-lab's API, the site cache)."""

    #: Where an unexpected error's details are, said in its answer.
    details_in = "the server log"

    def set_retry_after(self, error: errors.SlurmLabError) -> None:
        """Add ``Retry-After`` where a retry can help (a handler with a setting for it)."""

    def send_listing(self, rendered: RenderedJobs) -> None:
        """A queue listing with its ETag (304 when the client has it); when stale, the last good
        data with the error that made them stale, under that error's status."""
        self.set_header("Content-Type", "application/json")
        if rendered.error is not None:
            self.set_status(status_of(rendered.error))
            self.set_retry_after(rendered.error)
            self.finish(rendered.body(**error_body(rendered.error)))
            return
        self.set_header("ETag", rendered.etag)
        if self.check_etag_header():
            self.set_status(304)
            self.finish()
            return
        self.finish(rendered.body())

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        if isinstance(exc, errors.SlurmLabError):
            self.set_status(status_of(exc))
            self.set_retry_after(exc)
            body = error_body(exc)
        elif isinstance(exc, web.HTTPError):
            body = {"message": exc.log_message or self._reason, "reason": exc.reason or "http_error"}
        else:
            body = {"message": f"internal error; see {self.details_in}", "reason": "internal_error"}
        self.finish(to_json(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, errors.SlurmLabError | web.HTTPError):
            return  # expected: the access log and the response say enough
        # Unexpected: one line at error level; the traceback only at debug level.
        log.error("%s %s failed: %s: %s", self.request.method, self.request.path, typ.__name__, value)
        log.debug("traceback", exc_info=(typ, value, tb))


class ServesApi(web.RequestHandler):
    """A handler of slurm-lab's API (HTTP or WebSocket): the one service it asks."""

    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> SlurmLabService:
        return self.settings["slurm_lab_service"]  # type: ignore[no-any-return]


class SlurmLabHandler(JsonErrors, ServesApi, APIHandler):
    @property
    def retry_after(self) -> int:
        return int(self.settings["slurm_lab_retry_after"])

    def json_body(self) -> dict[str, Any]:
        try:
            body = orjson.loads(self.request.body or b"null")
        except orjson.JSONDecodeError:
            raise errors.InvalidInput("body", "is not valid JSON") from None
        if not isinstance(body, dict):
            raise errors.InvalidInput("body", "must be a JSON object")
        return body

    def send_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(to_json(obj))

    def set_retry_after(self, error: errors.SlurmLabError) -> None:
        if isinstance(
            error, errors.ControllerUnavailable | errors.AccountingUnavailable | errors.BackendUnavailable
        ):
            self.set_header("Retry-After", str(self.retry_after))


class JobsHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        scope = validation.scope(self.get_query_argument("scope", None))
        states = validation.states(self.get_query_argument("state", None))
        partitions = validation.partitions(self.get_query_argument("partition", None))
        fmt = validation.queue_format(self.get_query_argument("format", None))
        self.send_listing(await self.service.render_jobs(scope, states, partitions, fmt))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        lab = self.settings["slurm_lab_config"]
        body = self.json_body()
        unknown = set(body) - {"script", "options", "idempotency_key", "test_only"}
        if unknown:
            raise errors.InvalidInput(
                sorted(unknown)[0], "unknown field; use script, options, idempotency_key, test_only"
            )
        script = validation.script(body.get("script"), lab.max_script_bytes)
        flags = validation.sbatch_flags(body.get("options"))
        if validation.flag(body.get("test_only"), "test_only"):
            self.send_json(
                {"test_only": True, **dataclasses.asdict(await self.service.will_run(script, flags))}
            )
            return
        key = validation.idempotency_key(body.get("idempotency_key"))
        result, replayed = await self.service.submit(script, flags, key)
        self.set_header("Location", url_path_join(self.base_url, API_PREFIX, "jobs", result.job_id))
        if replayed:
            self.set_header("Idempotent-Replayed", "true")
        self.send_json({"job_id": result.job_id}, 201)


class JobEventsHandler(ServesApi, WebSocketMixin, WebSocketHandler, JupyterHandler):  # type: ignore[misc]
    """``jobs/events``, a WebSocket: the queue pushed as it changes (messages: see feed.py).

    The client sends ``{"subscribe": "mine"}`` or ``{"subscribe": "all"}``; the latest one is
    served. Authenticated and authorized like ``GET jobs``; jupyter_server checks the Origin.
    """

    _unsubscribe: Callable[[], None] | None = None

    def set_default_headers(self) -> None:
        """None of JupyterHandler's page headers: this is a WebSocket."""

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403)
        await super().get(*args, **kwargs)

    def on_message(self, message: str | bytes) -> None:
        try:
            body = orjson.loads(message)
            if not isinstance(body, dict) or set(body) != {"subscribe"}:
                raise errors.InvalidInput("message", 'must be {"subscribe": "mine" or "all"}')
            scope = validation.scope(body["subscribe"] if isinstance(body["subscribe"], str) else "?")
            self.on_close()
            self._unsubscribe = self.service.subscribe(scope, self._send)
        except orjson.JSONDecodeError:
            self._send(
                to_json({"type": "error", **error_body(errors.InvalidInput("message", "is not JSON"))})
            )
        except errors.SlurmLabError as exc:
            self._send(to_json({"type": "error", **error_body(exc)}))

    def _send(self, message: bytes) -> bool:
        """Queue one message; False once the client is gone (the feed then forgets it)."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            return False
        self.write_message(message.decode()).add_done_callback(_closed_is_fine)
        return True

    def on_close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


def _closed_is_fine(sent: Future[None]) -> None:
    """A client that left while its message was on the way: nothing to do."""
    if not sent.cancelled() and not isinstance(sent.exception(), WebSocketClosedError | None):
        log.warning("a push message failed: %s", sent.exception())


class JobHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.send_json(await self.service.job(validation.job_id(job_id)))

    @web.authenticated
    @authorized
    async def delete(self, job_id: str) -> None:
        await act_on_one(self.service, "cancel", validation.job_id(job_id))
        self.set_status(204)
        self.finish()


class JobScriptHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        """What made the job (script and options), to submit it again."""
        self.send_json(await self.service.job_script(validation.job_id(job_id)))


class JobActionHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def post(self, job_id: str, action: str) -> None:
        result = await act_on_one(self.service, action, validation.job_id(job_id))
        self.send_json(result)


class JobsActionsHandler(SlurmLabHandler):
    """Act on many jobs at once: ``{"action": "cancel"|"hold"|"release", "job_ids": [...]}``."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        action = body.get("action")
        if action not in ("cancel", "hold", "release"):
            raise errors.InvalidInput("action", "must be 'cancel', 'hold' or 'release'")
        ids = validation.job_ids(body.get("job_ids"))
        results = await self.service.act(action, ids)
        self.send_json({"results": results})


class JobOutputHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        chunk = await self.service.output(
            validation.job_id(job_id),
            validation.stream(self.get_query_argument("stream", None)),
            validation.offset(self.get_query_argument("offset", None)),
        )
        self.send_json(chunk)


class PartitionsHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        partitions = await self.service.partitions()
        self.send_json({"partitions": partitions})


class AccountHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(await self.service.account())


class NodesHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json({"nodes": await self.service.nodes()})


class StatusHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        status = await self.service.status()
        problem = self.service.identity_error
        body = {**dataclasses.asdict(status), "version": __version__}
        # Where Jupyter's files are, as the cluster sees them: only when jobs' files are on this machine.
        root = self.contents_manager.root_dir if self.service.files_are_local else None
        self.send_json({**body, "identity_error": problem.message if problem else None, "root_dir": root})


class HistoryHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        scope = validation.scope(self.get_query_argument("scope", None))
        since = validation.since(self.get_query_argument("since", None))
        self.send_json(await self.service.history(scope, since))


class OptionsHandler(SlurmLabHandler):
    """The sbatch options the API takes (slurm/options.py), for forms and #SBATCH readers."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json({"options": options.describe()})


class OpenAPIHandler(SlurmLabHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Content-Type", "application/yaml")
        self.finish(files("slurm_lab").joinpath("openapi.yaml").read_bytes())


class NoSuchRouteHandler(SlurmLabHandler):
    """Any other path under the API: a JSON 404 (not Jupyter's HTML page) naming the spec."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        raise web.HTTPError(404, "no such slurm-lab API route; see openapi.yaml")

    post = put = patch = delete = get


async def act_on_one(service: SlurmLabService, action: str, job_id: str) -> ActionResult:
    """Act on one job, raising its typed error (403, 404, ...) when Slurm refused."""
    (result,) = await service.act(action, [job_id])  # type: ignore[arg-type]
    if not result.ok:
        cls = ERROR_BY_REASON.get(result.reason, errors.CommandFailed)
        if cls is errors.InvalidInput:  # the one error class built from (field, problem)
            raise errors.InvalidInput("job_id", result.message)
        raise cls(result.message)
    return result


_JOB = r"(?P<job_id>[^/]+)"


def api_handlers() -> list[tuple[str, type[JupyterHandler]]]:
    """The URL table, relative to the server's base_url."""
    routes = [
        (r"jobs", JobsHandler),
        (r"jobs/actions", JobsActionsHandler),
        (r"jobs/events", JobEventsHandler),
        (rf"jobs/{_JOB}/(?P<action>hold|release)", JobActionHandler),
        (rf"jobs/{_JOB}/output", JobOutputHandler),
        (rf"jobs/{_JOB}/script", JobScriptHandler),
        (rf"jobs/{_JOB}", JobHandler),
        (r"partitions", PartitionsHandler),
        (r"nodes", NodesHandler),
        (r"account", AccountHandler),
        (r"options", OptionsHandler),
        (r"status", StatusHandler),
        (r"history", HistoryHandler),
        (r"openapi.yaml", OpenAPIHandler),
        (r".*", NoSuchRouteHandler),
    ]
    return [(url_path_join("/", API_PREFIX, path), handler) for path, handler in routes]
