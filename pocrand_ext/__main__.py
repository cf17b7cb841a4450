"""`python -m pocrand_ext`: the `pocrand` command line, whose home is pocrand_ext/cli/."""
from .cli import main  # noqa: F401  (also the entry point older installs of the script name)
if __name__ == "__main__": raise SystemExit(main())  # noqa: E701
