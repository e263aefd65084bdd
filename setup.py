"""Only the optional C speed-up of the fingerprint's literal scan: the rest of the build is in pyproject.toml.

`optional=True`: where it cannot be compiled (no compiler or Python headers), the package installs without it
and fingerprint.py uses its regexes, which give the same answers.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("query_audit.analyze._literal_scan", ["query_audit/analyze/_literal_scan.c"], optional=True),
    ],
)
