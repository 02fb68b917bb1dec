"""Command line: pick the command, build the Settings, run it, and turn errors into
exit codes. The audit pipeline itself is in run.py, options in options.py, settings
in settings.py, maintenance subcommands in commands.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from vulnsweep.errors import EXIT_INTERRUPTED, EXIT_OK, VulnsweepError
from vulnsweep.logs import configure_logging


def _audit_command(argv: Sequence[str], *, recheck: bool = False) -> int:
    from vulnsweep.allocator import tune_malloc
    from vulnsweep.run import Run, execute
    from vulnsweep.settings import Settings

    settings = Settings.parse(argv, recheck=recheck)
    configure_logging(settings.verbose)
    tune_malloc()  # before any thread starts
    with Run(settings) as run:
        return execute(run)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        command = argv[0] if argv else None
        if command == "cache":
            from vulnsweep.commands import cache_command

            return cache_command(argv[1:])
        if command == "db":
            from vulnsweep.commands import db_command

            return db_command(argv[1:])
        if command == "history":
            from vulnsweep.commands import history_command

            return history_command(argv[1:])
        if command == "state":
            from vulnsweep.commands import state_command

            return state_command(argv[1:])
        if command == "recheck":
            return _audit_command(argv[1:], recheck=True)
        return _audit_command(argv)
    except VulnsweepError as exc:
        from vulnsweep.redact import shown

        print(f"vulnsweep: error: {shown(str(exc), 2000)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vulnsweep: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. `| head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
