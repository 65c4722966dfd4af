"""Pure knowledge of the Slurm CLIs: argv builders, output parsers, error diagnosis. No I/O here."""
