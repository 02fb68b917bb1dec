"""pip requirements files, read the way pip reads them, without running pip:
lines.py joins and cleans lines, options.py handles option lines, pep508.py reads
each requirement, source.py walks includes and settles pins, skips and resolution.
Only exact pins (`==`, `===`) are audited; everything else is skipped with a reason
or, unless --no-deps, resolved.
"""
