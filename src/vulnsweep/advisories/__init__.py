"""The rules of OSV advisories, with no I/O: which versions a record affects
(matching.py), how records become one Vulnerability per alias group with validated
fields and PEP 440 fix versions (records.py), and CVSS severity (severity.py). Every
service and the offline database apply the same rules."""
