"""The vector exp and log1p of the compiled epoch (simd/isa_template.h), against NumPy.

The per-row part of the epoch (softmax and sigmoid rows) takes its exponentials and the
log1p of its losses from these two functions, one vector loop per sub-block, on every SIMD
level. Checked here, through the test hooks ``_vexp`` and ``_vlog1p`` of
``fastreg._kernels._linear``, on every level the CPU runs: within 2 ulp of ``np.exp`` /
``np.log1p`` (a subnormal result is counted in units of the smallest subnormal) on zero,
subnormals, log-spaced magnitudes over the whole double range, a dense grid where the epoch
lives and the integers K - 1 a softmax row's rest can reach; and the documented edges (NaN
stays NaN, log1p(+inf) = +inf, log1p(-1) = -inf, exp of anything below -746 is 0). Lengths
that are not multiples of the vector width check that the tail lanes are handled.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.requires_cython

TINY = np.finfo(np.float64).smallest_subnormal


def _ulps(got, want):
    """|got - want| in units in the last place of want (of the smallest subnormal below)."""
    got, want = np.asarray(got), np.asarray(want)
    both_inf = np.isinf(got) & np.isinf(want) & (np.sign(got) == np.sign(want))
    unit = np.maximum(np.spacing(np.abs(want)), TINY)
    err = np.abs(got - want) / unit
    return np.where(both_inf, 0.0, err)


def _levels(m):
    for level in m._simd_levels():
        m._set_simd_level(level)
        yield level


def _log1p_points():
    return np.concatenate(
        [
            [
                0.0,
                TINY,
                3 * TINY,
                1e-310,
                np.finfo(np.float64).tiny,
                2.0**-53,
                2.0**-52,
                np.sqrt(2) - 1,
                np.nextafter(np.sqrt(2) - 1, 0),
                1.0,
                2.0**53,
                2.0**53 + 2,
                np.finfo(np.float64).max,
            ],
            np.logspace(-300, 300, 6001),
            np.linspace(1e-8, 10, 100001),
            np.geomspace(1e-8, 10, 20001),
            np.arange(0.0, 1001.0),  # the rest of a softmax row reaches K - 1
            np.linspace(-0.999, 0.0, 2001),  # supported too, though the epoch never asks
        ]
    )


def test_vlog1p_is_within_2_ulp_of_numpy(linear_module):
    x = _log1p_points()
    want = np.log1p(x)
    for level in _levels(linear_module):
        got = linear_module._vlog1p(x)
        err = _ulps(got, want)
        assert err.max() <= 2.0, (level, x[err.argmax()], got[err.argmax()], want[err.argmax()])
        # a subnormal or zero x is its own log1p, exactly
        small = x[:4]
        np.testing.assert_array_equal(linear_module._vlog1p(small), small)


def test_vlog1p_edges(linear_module):
    x = np.array([np.inf, np.nan, -1.0, -2.0, -np.inf, 0.0])
    for level in _levels(linear_module):
        got = linear_module._vlog1p(x)
        assert got[0] == np.inf, level
        assert np.isnan(got[1]), level
        assert got[2] == -np.inf, level
        assert np.isnan(got[3]) and np.isnan(got[4]), level
        assert got[5] == 0.0, level


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 9, 15, 17])
def test_vector_tails(linear_module, n):
    """Every length: the lanes past n are the caller's scratch, the first n are right."""
    rng = np.random.default_rng(n)
    x = rng.uniform(0, 50, n)
    z = -rng.uniform(0, 50, n)
    for level in _levels(linear_module):
        assert _ulps(linear_module._vlog1p(x), np.log1p(x)).max() <= 2.0, level
        assert _ulps(linear_module._vexp(z), np.exp(z)).max() <= 2.0, level


def test_vexp_is_within_2_ulp_of_numpy(linear_module):
    x = np.concatenate(
        [
            [0.0, -0.0, TINY, -TINY, -1e-300, 1.0, -1.0, 700.0, 709.0, -708.0, -740.0, -745.0],
            np.linspace(-745.0, 709.0, 100001),
            -np.logspace(-300, 2.8, 4001),
            np.logspace(-300, 2.8, 4001),
        ]
    )
    want = np.exp(x)
    for level in _levels(linear_module):
        got = linear_module._vexp(x)
        err = _ulps(got, want)
        assert err.max() <= 2.0, (level, x[err.argmax()], got[err.argmax()], want[err.argmax()])


def test_vexp_edges(linear_module):
    x = np.array([np.nan, -np.inf, -746.0, -800.0, -1e300, 710.0])
    for level in _levels(linear_module):
        got = linear_module._vexp(x)
        assert np.isnan(got[0]), level
        np.testing.assert_array_equal(got[1:5], 0.0)
        assert got[5] == np.inf, level
