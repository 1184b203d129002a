"""BG/NBD and Gamma-Gamma fitted by maximum likelihood reproduce the published CDNOW estimates
(Fader, Hardie & Lee 2005: r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4; Fader & Hardie
2013: p 6.25, q 3.74, v 15.44) to three significant figures."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from crm_analytics.clv.model import fit_bgnbd, fit_gamma_gamma

DATA = Path(__file__).parent / "data" / "cdnow_summary.csv"


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    with DATA.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2357
    return {k: np.array([float(r[k]) for r in rows]) for k in ("x", "t_x", "T", "zbar")}


def test_bgnbd_reproduces_the_published_cdnow_estimates(cdnow: dict[str, np.ndarray]) -> None:
    model = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert (sig3(model.r), sig3(model.alpha), sig3(model.a), sig3(model.b)) == (
        0.243,
        4.41,
        0.793,
        2.43,
    )
    assert round(model.log_likelihood, 1) == -9582.4
    # P(alive) and conditional expectations behave: a customer with no repeat purchase is
    # alive by construction; a frequent buyer gone quiet is less likely alive than a recent one
    alive = model.p_alive(np.array([0, 5, 5]), np.array([0, 10, 38]), np.array([38, 38, 38]))
    assert alive[0] == 1.0 and alive[1] < alive[2]
    expected = model.expected_purchases(39, np.array([0, 5]), np.array([0, 38]), np.array([38, 38]))
    assert 0 < expected[0] < expected[1]


def test_gamma_gamma_reproduces_the_published_cdnow_estimates(cdnow: dict[str, np.ndarray]) -> None:
    model = fit_gamma_gamma(cdnow["x"], cdnow["zbar"])
    assert (sig3(model.p), sig3(model.q), sig3(model.v)) == (6.25, 3.74, 15.4)
    # the conditional mean shrinks a customer's own average towards the population's
    population = model.p * model.v / (model.q - 1)
    spend = model.expected_spend(np.array([1.0, 20.0]), np.array([100.0, 100.0]))
    assert population < spend[0] < spend[1] < 100
