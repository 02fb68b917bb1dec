"""Remediation: from findings to a plan that resolves, and files that still install.

- `units`: which files pin the vulnerable releases, and what each project declares;
- `planner`: re-resolves each lock with the fixes as floors, keeping every other
  locked version the new set allows, and explains each move;
- `releases`: what the index says about a fix (hashes, upload times, dead lines);
- `writers`: the plan written back to each format (or handed to the tool that owns it);
- `pins`: single pins in hand-written files (requirements lines, pyproject strings);
- `fleet`: one view of many projects' plans, per vulnerable release.
"""
