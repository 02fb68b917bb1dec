"""What a scheduled job remembers between runs: the baseline a run is compared with
(an earlier report, or the previous run in a `--state` file) and the run history."""
