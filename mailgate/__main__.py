"""`python -m mailgate` = the `mailgate` command."""

from mailgate.cli.main import main

main(prog_name="mailgate")
