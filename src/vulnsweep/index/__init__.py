"""Package-index access for every stage that needs it: project pages and metadata for
resolution (client.py, archives.py), project status and release hashes for
`--check-status` and `--fix` (status.py), all signing in the same way (auth.py: URL
credentials, ~/.netrc, keyring) over the run's one connection pool."""
