"""Resolution: requirement sets that are not all pinned become the exact releases pip
would install, from index metadata alone (no package code ever runs). resolve.py
orchestrates (threads, prefetching, deadline, reuse); provider.py is pip's rules for
resolvelib; graph.py the dependency paths; uv.py the `--resolver uv` alternative."""

# Resolver rounds per set before it is named as not resolved (`--max-rounds`); pip's
# 200,000 can mean an hour and gigabytes on a set like apache-airflow[all].
MAX_ROUNDS = 20_000
