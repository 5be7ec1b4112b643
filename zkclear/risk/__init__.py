"""Risk beyond linear margin: options, scenario (portfolio) margin, dynamic parameters, oracle guards.

Layer: same as the clearing engine (no cryptography imported). Modules:

* :mod:`~zkclear.risk.black76` — Black-76 prices and Greeks (floats).
* :mod:`~zkclear.risk.options` — European option spec, integer mark (rounded up), premium, expiry settlement.
* :mod:`~zkclear.risk.scenarios` — scenario grid and the public integer value-change table.
* :mod:`~zkclear.risk.portfolio_margin` — requirement = sum of per-underlying worst scenario losses + charges.
* :mod:`~zkclear.risk.volatility` — EWMA and GARCH(1,1) maximum likelihood.
* :mod:`~zkclear.risk.dynamic_params` — volatility-scaled margin fractions in integer ppm.
* :mod:`~zkclear.risk.oracle` — median of sources, staleness/deviation filters, fallback, circuit breaker.
"""
