"""A batch script's own ``#SBATCH`` lines, read as sbatch reads them. Pure.

sbatch reads ``#SBATCH`` lines from the top of the script until the first command; slurmrestd
22.05 ignores them, so the slurmrestd scheduler reads them here and sends them as job fields.
"""

from __future__ import annotations

import re
import shlex

from .options import OPTIONS, SbatchOption

_BY_FLAG: dict[str, SbatchOption] = {
    **{o.flag: o for o in OPTIONS},
    **{o.short: o for o in OPTIONS if o.short},
}
_DIRECTIVE = re.compile(r"#SBATCH\s+(.*)")


class UnknownDirective(ValueError):
    """A ``#SBATCH`` flag outside slurm-lab's option table."""

    def __init__(self, flag: str) -> None:
        super().__init__(flag)
        self.flag = flag


def script_directives(script: str) -> dict[str, str | bool]:
    """The options the script's ``#SBATCH`` lines set, by API name (later lines win).

    Raises UnknownDirective for a flag slurm-lab does not know, so nothing is silently dropped.
    """
    out: dict[str, str | bool] = {}
    for raw in script.splitlines()[1:]:
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            break  # the first command ends the directives
        m = _DIRECTIVE.match(line)
        if m is None:
            continue
        try:
            words = shlex.split(m.group(1), comments=True)
        except ValueError:
            words = m.group(1).split()
        while words:
            word = words.pop(0)
            if not word.startswith("-"):
                continue  # a stray word: sbatch does not read it either
            flag, eq, value = word.partition("=")
            if not eq and len(flag) > 2 and flag.startswith("-") and not flag.startswith("--"):
                flag, value, eq = flag[:2], flag[2:], "="  # "-N2"
            option = _BY_FLAG.get(flag)
            if option is None:
                raise UnknownDirective(flag)
            if option.pattern is None:
                out[option.name] = True
            elif eq:
                out[option.name] = value
            elif words:
                out[option.name] = words.pop(0)
    return out
