"""A real single-node Slurm for development, tests and Binder: ``python -m slurm_lab.devcluster``.

Standard library only (``./dev`` runs ``python3 -m slurm_lab.devcluster packages`` before the venv exists).
"""

from .cluster import DevCluster, default_root
from .errors import DevClusterError

__all__ = ["DevCluster", "DevClusterError", "default_root"]
