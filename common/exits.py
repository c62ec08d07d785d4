"""Process exit codes every `fdc` command uses (CONTRACT.md, "Command line")."""

EXIT_OK = 0
EXIT_CONFIG = 2  # bad config or usage
EXIT_UNREACHABLE = 3  # a source or the broker unreachable, refusing credentials or answering nonsense during --once
