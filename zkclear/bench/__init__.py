"""Benchmark suites, run from the CLI as ``zkclear bench SUITE``.

Each suite is a module ``zkclear.bench.<suite>`` exposing
``run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]``: it prints
human-readable figures through ``echo`` and returns the metric name -> number map that
``--json`` prints. Benchmarks are scripts, never timed tests.
"""

SUITES = ("group", "rangeproof", "clearing", "scenario", "collateral", "tree", "chains", "verifier", "epoch", "scale",
          "waterfall")
