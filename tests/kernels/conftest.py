"""Fixtures of the kernel tests."""

import pytest


@pytest.fixture
def linear_module():
    """The compiled module ``fastreg._kernels._linear`` with its private tuning and SIMD
    helpers; the epoch's and the forward pass's tuning and the SIMD level are restored after."""
    from fastreg._kernels import _linear

    saved = _linear._tuning(), _linear._forward_tuning()
    level = _linear._simd_level()
    yield _linear
    _linear._tuning(**saved[0])
    _linear._forward_tuning(**saved[1])
    _linear._set_simd_level(level)
