"""Numerically careful element-wise functions shared by kernels and losses (NumPy only).

All functions take an array of any shape and return a new array of the same shape and dtype;
constants are Python floats so float32 inputs stay float32.
"""
from __future__ import annotations

import math

import numpy as np

# Cephes (S. L. Moshier) rational approximations of erf and erfc, as in scipy.special's backend:
# erf(x) = x T(x^2) / U(x^2) on |x| < 1 (relative error < 4e-16) and erfc(a) = exp(-a^2) P(a) / Q(a)
# on a >= 1 (relative error < 2e-14 up to a = 8, where erfc(8) ~ 1e-29; Q and U have a leading 1).
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
# exp(-a^2) is exactly 0 in float64 beyond a ~ 27.3; clamping there keeps P(a) and Q(a) finite.
_ERFC_ZERO = 40.0

INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _polyval(coeffs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """Horner evaluation, highest power first; Python-float coefficients keep x's dtype."""
    acc = x * coeffs[0]
    acc += coeffs[1]
    for c in coeffs[2:]:
        acc *= x
        acc += c
    return acc


def _erf_and_erfc(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(|z| < 1, erf(z) valid there, erfc(|z|) valid elsewhere), each of z's shape.

    NOTE: both branches are evaluated on every entry and selected afterwards: boolean gathers
    and scatters cost more than the extra polynomial work. Each branch sees its input clamped to
    where it is used (|z| <= 1; |z| <= 40, past which erfc is 0), so nothing overflows. Beyond
    |z| = 8 (values below 1e-28) the erfc branch's relative error grows to ~3e-10.
    """
    a = np.abs(z)
    small = a < 1.0
    zs = np.clip(z, -1.0, 1.0)
    t = zs * zs
    erf_small = _polyval(_T, t)
    erf_small *= zs
    erf_small /= _polyval(_U, t)
    np.minimum(a, _ERFC_ZERO, out=a)
    t = a * a
    np.negative(t, out=t)
    erfc_big = np.exp(t, out=t)
    erfc_big *= _polyval(_P, a)
    erfc_big /= _polyval(_Q, a)
    return small, erf_small, erfc_big


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorized: x (any shape) -> same shape; |error| < 1e-15 in float64."""
    x = np.asarray(x)
    small, erf_small, erfc_big = _erf_and_erfc(x)
    np.subtract(1.0, erfc_big, out=erfc_big)
    return select(small, erf_small, np.copysign(erfc_big, x))


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, with relative accuracy kept in the left tail.

    NOTE: for x < -sqrt 2 this uses erfc directly instead of 1 + erf, so Phi(-10) ~ 7.6e-24 keeps
    its digits (PyTorch's 1 + erf cancels there; the absolute difference is below 1e-16).
    """
    z = np.asarray(x) * INV_SQRT2
    small, erf_small, erfc_big = _erf_and_erfc(z)
    erf_small *= 0.5
    erf_small += 0.5
    erfc_big *= 0.5
    tail = select(z > 0, 1.0 - erfc_big, erfc_big)
    return select(small, erf_small, tail)


def normal_pdf(x: np.ndarray) -> np.ndarray:
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi): x (any shape) -> same shape."""
    out = x * x
    out *= -0.5
    np.exp(out, out=out)
    out *= INV_SQRT_2PI
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), stable for any x: x (any shape) -> same shape.

    NOTE: for very negative x (below -88.7 in float32, -709.8 in float64) exp(-x) overflows to
    inf and the result is 1 / inf = 0, off by less than the smallest normal number (1.2e-38,
    2.2e-308); that overflow is expected, so its warning is silenced. Where exp(-x) is finite the
    form keeps full relative accuracy, tiny outputs included. (The exp(-|x|) form with a masked
    select is as stable and several times slower.)
    """
    with np.errstate(over="ignore"):
        s = np.negative(x)
        np.exp(s, out=s)
    s += 1.0
    np.reciprocal(s, out=s)
    return s


def select(cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.where(cond, a, b) for finite a and b (arrays or scalars broadcasting to one shape).

    NOTE: computed as a * cond + b * ~cond, exact for finite values (v * 1 = v, v * 0 = 0, and
    adding 0 changes nothing); np.where branches per element and is ~20x slower on random masks.
    An inf or nan in the unselected operand would leak through as nan.
    """
    out = np.multiply(a, cond)
    out += np.multiply(b, ~cond)
    return out
