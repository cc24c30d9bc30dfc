"""`python -m nestkube` runs the CLI (useful where the console script is not on PATH)."""

from nestkube.cli.main import main

main()
