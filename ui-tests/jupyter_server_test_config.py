"""JupyterLab for the browser tests: Galata's settings, slurm-lab on the dev cluster."""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.SlurmLab.slurm_conf = os.environ.get("SLURM_CONF", "")  # noqa: F821
c.SlurmLab.cache_ttl = 1.0  # noqa: F821
c.SlurmLab.push_interval = 2.0  # noqa: F821
c.SlurmLab.retry_after = 2  # noqa: F821
