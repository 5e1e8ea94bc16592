"""Numerically careful element-wise functions shared by kernels and losses (NumPy only).

All functions take an array of any shape and return a new array of the same shape and dtype;
constants are Python floats so float32 inputs stay float32.
"""
from __future__ import annotations

import math

import numpy as np

# Cephes (S. L. Moshier) rational approximations of erf and erfc, as in scipy.special's backend.
# erf on |x| < 1: x T(x^2) / U(x^2), relative error < 4e-16; erfc on 1 <= x < 8: exp(-x^2) P(x)/Q(x)
# and on x >= 8: exp(-x^2) R(x)/S(x), relative error < 6e-14 (Q, S, U have a leading 1).
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
      6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
      1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)

INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _polyval(coeffs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """Horner evaluation, highest power first; Python-float coefficients keep x's dtype."""
    acc = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        acc *= x
        acc += c
    return acc


def _erf_small(x: np.ndarray) -> np.ndarray:
    """erf(x) for |x| < 1."""
    z = x * x
    return x * _polyval(_T, z) / _polyval(_U, z)


def _erfc_large(a: np.ndarray) -> np.ndarray:
    """erfc(a) for a >= 1 (underflows to 0 beyond a ~ 26.6)."""
    out = np.empty_like(a)
    mid = a < 8.0
    am, ab = a[mid], a[~mid]
    out[mid] = np.exp(-am * am) * _polyval(_P, am) / _polyval(_Q, am)
    out[~mid] = np.exp(-ab * ab) * _polyval(_R, ab) / _polyval(_S, ab)
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorized: x (any shape) -> same shape; |error| < 1e-15 in float64."""
    x = np.asarray(x)
    a = np.abs(x)
    out = np.empty_like(x)
    small = a < 1.0
    out[small] = _erf_small(x[small])
    big = ~small
    out[big] = np.copysign(1.0 - _erfc_large(a[big]), x[big])
    return out


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, with relative accuracy kept in the far left tail.

    NOTE: for x < -sqrt 2 this uses erfc directly instead of 1 + erf, so Phi(-10) ~ 7.6e-24 keeps
    its digits (PyTorch's 1 + erf cancels there; the absolute difference is below 1e-16).
    """
    z = np.asarray(x) * INV_SQRT2
    a = np.abs(z)
    out = np.empty_like(z)
    small = a < 1.0
    out[small] = 0.5 + 0.5 * _erf_small(z[small])
    big = ~small
    half_tail = 0.5 * _erfc_large(a[big])
    out[big] = np.where(z[big] > 0, 1.0 - half_tail, half_tail)
    return out


def normal_pdf(x: np.ndarray) -> np.ndarray:
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi): x (any shape) -> same shape."""
    out = x * x
    out *= -0.5
    np.exp(out, out=out)
    out *= INV_SQRT_2PI
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), stable for any x: x (any shape) -> same shape.

    NOTE: exp is only taken of -|x| (never overflows); for x < 0 the equal form exp(x)/(1+exp(x))
    keeps the relative accuracy of tiny outputs.
    """
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    s = e + 1.0
    np.reciprocal(s, out=s)
    np.multiply(s, e, out=s, where=x < 0)
    return s


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow: x (any shape) -> same shape."""
    return np.logaddexp(0.0, x).astype(x.dtype, copy=False)
