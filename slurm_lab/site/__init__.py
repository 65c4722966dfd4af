"""The site cache: one process lists the queue for every user of a login node (or JupyterHub host)
and answers each over a Unix socket with what their own squeue shows, so slurmctld's load does not
grow with the number of users. ``python -m slurm_lab.site --socket /run/slurm-lab/queue.sock``;
servers use it with ``c.SlurmLab.site_cache`` (see site_client.py)."""
