"""Predicted customer lifetime value: BG/NBD (Fader, Hardie & Lee 2005) for purchase frequency
and P(alive), Gamma-Gamma (Fader & Hardie 2013) for spend, both fitted by maximum likelihood.

Inputs per customer, time in weeks: `x` repeat purchases (orders after the first), `t_x` the
time from the first to the last purchase, `T` the time from the first purchase to the end of the
observation, and for spend `zbar` the mean value of the repeat purchases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize  # type: ignore[import-untyped]
from scipy.special import betaln, gammaln, hyp2f1  # type: ignore[import-untyped]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        """P(the customer is still active | x, t_x, T)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = (self.a / (self.b + x - 1)) * ((self.alpha + T) / (self.alpha + t_x)) ** (
                self.r + x
            )
        return np.where(x > 0, 1.0 / (1.0 + odds), 1.0)

    def expected_purchases(self, t: float, x: Array, t_x: Array, T: Array) -> Array:
        """E[Y(t) | x, t_x, T]: expected purchases in the next `t` weeks."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        numerator = ((a + b + x - 1) / (a - 1)) * (
            1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        return np.asarray(numerator / (1 + np.where(x > 0, odds, 0.0)), dtype=float)


def bgnbd_log_likelihood(x: Array, t_x: Array, T: Array) -> Callable[[Array], float]:
    """These customers' BG/NBD log-likelihood as a function of (r, alpha, a, b). The terms of x
    alone are computed once per distinct x (repeat purchases: small integers many customers
    share), so an evaluation costs a few array operations instead of a dozen log-gammas."""
    distinct, at = np.unique(x, return_inverse=True)
    repeat = x > 0

    def log_likelihood(params: Array) -> float:
        r, alpha, a, b = params
        base = (gammaln(r + distinct) - gammaln(r))[at] + r * np.log(alpha)
        first = (betaln(a, b + distinct) - betaln(a, b))[at] - (r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            second = (betaln(a + 1, b + distinct - 1) - betaln(a, b))[at] - (r + x) * np.log(
                alpha + t_x
            )
        second = np.where(repeat, second, -np.inf)
        return float(np.sum(base + np.logaddexp(first, second)))

    return log_likelihood


def _fit(negative_ll: object, start: Array) -> Array:
    assert callable(negative_ll)
    best = minimize(
        negative_ll,
        np.log(start),
        method="Nelder-Mead",
        # a budget: CDNOW needs ~760 evaluations; data without a clear optimum would take 40,000
        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 3_000, "maxfev": 3_000},
    )
    polished = minimize(negative_ll, best.x, method="BFGS", options={"gtol": 1e-8, "maxiter": 200})
    chosen = polished.x if polished.fun <= best.fun else best.x
    return np.asarray(np.exp(chosen), dtype=float)


def fit_bgnbd(x: Array, t_x: Array, T: Array) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters (optimised over their logarithms)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    log_likelihood = bgnbd_log_likelihood(x, t_x, T)

    def negative(log_params: Array) -> float:
        value = -log_likelihood(np.exp(log_params))
        return value if np.isfinite(value) else 1e300

    r, alpha, a, b = _fit(negative, np.array([1.0, 1.0, 1.0, 1.0]))
    ll = log_likelihood(np.array([r, alpha, a, b]))
    return BgNbd(float(r), float(alpha), float(a), float(b), ll)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float
    log_likelihood: float

    def expected_spend(self, x: Array, zbar: Array) -> Array:
        """E[M | x, zbar]: a customer's expected mean purchase value (the population mean
        p·v/(q-1) for a customer without repeat purchases)."""
        x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
        zbar = np.where(x > 0, zbar, 0.0)
        return np.asarray(self.p * (self.v + x * zbar) / (self.p * x + self.q - 1), dtype=float)


def gamma_gamma_log_likelihood(x: Array, zbar: Array) -> Callable[[Array], float]:
    """These customers' Gamma-Gamma log-likelihood as a function of (p, q, v); the terms of the
    data alone are computed once."""
    distinct, at = np.unique(x, return_inverse=True)
    log_zbar, log_x, spent = np.log(zbar), np.log(x), x * zbar

    def log_likelihood(params: Array) -> float:
        p, q, v = params
        px = p * x
        ll = (
            (gammaln(p * distinct + q) - gammaln(p * distinct))[at]
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * log_zbar
            + px * log_x
            - (px + q) * np.log(spent + v)
        )
        return float(np.sum(ll))

    return log_likelihood


def fit_gamma_gamma(x: Array, zbar: Array) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters over customers with repeat purchases."""
    x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
    keep = (x > 0) & (zbar > 0)
    log_likelihood = gamma_gamma_log_likelihood(x[keep], zbar[keep])

    def negative(log_params: Array) -> float:
        value = -log_likelihood(np.exp(log_params))
        return value if np.isfinite(value) else 1e300

    p, q, v = _fit(negative, np.array([1.0, 1.0, 1.0]))
    return GammaGamma(float(p), float(q), float(v), log_likelihood(np.array([p, q, v])))
