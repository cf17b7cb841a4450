"""The self-check: ``python tests/spec_numpy [--exhaustive]`` (or ``python -m spec_numpy`` from
tests/). Exit status 0 when every check passes."""
from __future__ import annotations

import sys
from pathlib import Path

if __package__:
    from .selfcheck import _self_check
else:
    # Run as `python tests/spec_numpy`: this folder is sys.path[0]; import the package from tests/
    # instead, so that its modules load as spec_numpy.* (and none shadows a top-level module).
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from spec_numpy.selfcheck import _self_check

if __name__ == "__main__":
    sys.exit(0 if _self_check(exhaustive="--exhaustive" in sys.argv[1:]) else 1)
