"""Test sessions. `nox` runs them all; `nox -s demo` runs the demo on the embedded store.

The core suite runs once against the newest frameworks; each framework's integration file
also runs against an old, a middle and the newest supported release of that framework.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "sklearn", "pyspark"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
# (framework release, extra pins that release needs to install and import on Python 3.11)
SKLEARN_RELEASES = {
    "1.2.2": ["numpy<2", "scipy<1.14", "pandas<2.3"],  # 2023-03, oldest supported
    "1.5.2": ["numpy<2.1"],  # 2024-09
    "1.9.1": [],  # newest
}
PYSPARK_RELEASES = {
    "3.4.1": ["numpy<2", "pandas<2.1"],  # 2023-06, oldest supported
    "3.5.9": ["numpy<2"],
    "4.3.0": [],  # newest
}
PYTEST = ["pytest", "-p", "no:cacheprovider"]


def _env() -> dict[str, str]:
    # strict mode: our own bugs fail tests instead of becoming warnings
    return {"AUTOLOG_STRICT": "1", "PYTHONHASHSEED": "0"}


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Engine, store, models, CLI and API tests (frameworks at their newest)."""
    session.install("-e", ".[test,sklearn]")
    session.run(*PYTEST, "tests", "--ignore=tests/integrations", *session.posargs, env=_env())


@nox.session(python=PYTHON)
@nox.parametrize("release", list(SKLEARN_RELEASES))
def sklearn(session: nox.Session, release: str) -> None:
    """The scikit-learn integration against one scikit-learn release."""
    session.install("-e", ".[test]", f"scikit-learn=={release}", "matplotlib", "scipy",
                    *SKLEARN_RELEASES[release])
    session.run(*PYTEST, "tests/integrations/test_sklearn.py", *session.posargs, env=_env())


@nox.session(python=PYTHON)
@nox.parametrize("release", list(PYSPARK_RELEASES))
def pyspark(session: nox.Session, release: str) -> None:
    """The Spark MLlib integration against one pyspark release (local[2] and a standalone cluster)."""
    session.install("-e", ".[test]", f"pyspark=={release}", *PYSPARK_RELEASES[release])
    session.run(*PYTEST, "tests/integrations/test_pyspark.py", *session.posargs, env=_env())


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Train a few scikit-learn models with autolog on, into ./autolog-runs, and show them."""
    session.install("-e", ".[sklearn]")
    session.run("python", "-m", "autolog", "demo")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run every benchmark script (figures go into README.md by hand)."""
    session.install("-e", ".[test,sklearn,pyspark]")
    for script in sorted(__import__("pathlib").Path("benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
