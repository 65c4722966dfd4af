"""A real single-node Slurm for development, tests and Binder: ``python -m slurm_lab.devcluster``."""

from .cluster import DevCluster, DevClusterError, default_root

__all__ = ["DevCluster", "DevClusterError", "default_root"]
