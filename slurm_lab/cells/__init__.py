"""Run notebook cells as Slurm batch jobs: ``%%slurm``, run handles, widgets."""
