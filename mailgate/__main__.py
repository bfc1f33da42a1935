"""`python -m mailgate` = the `mailgate` command."""

from mailgate.cli import main

main(prog_name="mailgate")
