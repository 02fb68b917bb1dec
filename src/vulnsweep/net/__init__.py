"""HTTP for every stage: the run's one event loop and connection pool (session.py) and
the per-service client that retries, caps and names the service in errors (http.py)."""
