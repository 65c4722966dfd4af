"""The jupyter_server extension: builds the backend once and serves the REST API."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop

from .config import SlurmLab
from .errors import SlurmLabError
from .handlers import api_handlers
from .service import SlurmLabService


class SlurmLabApp(ExtensionApp):
    """Serves ``{base_url}slurm-lab/api/``; configured through ``c.SlurmLab`` (see :class:`SlurmLab`)."""

    name = "slurm_lab"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        lab = SlurmLab(config=self.config, parent=self)
        self.service = SlurmLabService.from_config(lab)
        self.settings.update(
            slurm_lab_service=self.service,
            slurm_lab_config=lab,
            slurm_lab_retry_after=lab.retry_after,
        )
        self.log.info("slurm-lab: %s backend, cache TTL %.1f s", lab.backend, lab.cache_ttl)
        IOLoop.current().add_callback(self._check_backend)

    async def _check_backend(self) -> None:
        """Say at start, not at the first click, when Slurm cannot be reached as configured
        (e.g. a slurmrestd speaking no OpenAPI version slurm-lab knows)."""
        try:
            status = await self.service.status()
        except SlurmLabError as exc:
            self.log.warning("slurm-lab: %s", exc.message)
            return
        self.log.info(
            "slurm-lab: Slurm %s as %s; %s", status.slurm_version, status.user, status.message or "ok"
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(api_handlers())  # ExtensionApp prefixes base_url

    async def stop_extension(self) -> None:
        await self.service.close()
