"""Data augmentation in NumPy, vectorised over the batch and seeded: affine and elastic distortions.

Each output pixel p (centred coordinates) samples the input at
    source(p) = R(−θ) · p / s + centre − t + α · (G ∗ u)(p),
with a random rotation θ, scale s and shift t per image, and an elastic
field (Simard et al., 2003): uniform noise u ∈ [−1, 1]² per pixel, smoothed
by a Gaussian G of width σ and scaled by α. Sampling is bilinear, with zeros
outside the image, so pixel values stay in [0, 1]. The Gaussian smoothing of a
28×28 field is two small matrix products, K · u · Kᵀ, K the Gaussian matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]


@dataclass(frozen=True)
class Augment:
    """Ranges of the random distortions; all zero is the identity."""

    rotation_degrees: float = 0.0     # θ ~ U(−r, r)
    scale: float = 0.0                # s ~ U(1 − a, 1 + a)
    shift_pixels: float = 0.0         # t ~ U(−d, d)² pixels
    elastic_alpha: float = 0.0        # displacement scale α, in pixels (Simard: 34)
    elastic_sigma: float = 4.0        # smoothness σ of the field, in pixels (Simard: 4)
    side: int = 28

    @property
    def is_identity(self) -> bool:
        return not (self.rotation_degrees or self.scale or self.shift_pixels or self.elastic_alpha)

    def __call__(self, x: FloatArray, rng: np.random.Generator) -> FloatArray:
        """Distort a batch of flattened images x (N, side²) in [0, 1]; returns a new (N, side²) array."""
        if self.is_identity:
            return x.copy()
        n, side = len(x), self.side
        images = x.reshape(n, side, side)
        rows, cols = np.indices((side, side), dtype=x.dtype) - x.dtype.type((side - 1) / 2)
        theta = np.deg2rad(rng.uniform(-self.rotation_degrees, self.rotation_degrees, n)).astype(x.dtype)
        inv_scale = (1.0 / rng.uniform(1.0 - self.scale, 1.0 + self.scale, n)).astype(x.dtype)
        shift = rng.uniform(-self.shift_pixels, self.shift_pixels, (2, n)).astype(x.dtype)
        cos = (np.cos(theta) * inv_scale)[:, None, None]
        sin = (np.sin(theta) * inv_scale)[:, None, None]
        centre = (side - 1) / 2
        src_rows = cos * rows - sin * cols + (centre - shift[0])[:, None, None]    # (N, side, side)
        src_cols = sin * rows + cos * cols + (centre - shift[1])[:, None, None]
        if self.elastic_alpha:
            field = rng.random((2 * n, side, side), dtype=np.float32).astype(x.dtype, copy=False) * 2 - 1
            smooth = blur(field, gaussian_matrix(side, self.elastic_sigma).astype(x.dtype))
            src_rows += self.elastic_alpha * smooth[:n]
            src_cols += self.elastic_alpha * smooth[n:]
        return bilinear_sample(images, src_rows, src_cols).reshape(n, side * side)


def blur(fields: FloatArray, kernel: FloatArray) -> FloatArray:
    """K · f · Kᵀ for every f in fields (M, S, S), as two (M·S, S) × (S, S) matrix products."""
    m, size, _ = fields.shape
    along_cols = (fields.reshape(-1, size) @ kernel.T).reshape(m, size, size)           # f · Kᵀ
    both = along_cols.transpose(0, 2, 1).reshape(-1, size) @ kernel.T                      # (K · f · Kᵀ)ᵀ rows
    return both.reshape(m, size, size).transpose(0, 2, 1)


def gaussian_matrix(size: int, sigma: float) -> NDArray[np.float64]:
    """K (size, size) with K[i, j] ∝ exp(−(i − j)² / 2σ²), rows summing to 1: K · f blurs f along one axis."""
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum(axis=1, keepdims=True)


def bilinear_sample(images: FloatArray, rows: FloatArray, cols: FloatArray) -> FloatArray:
    """images (N, H, W) sampled at real coordinates (N, H', W'); zero outside the image.

    With r₀ = ⌊r⌋, c₀ = ⌊c⌋, a = r − r₀, b = c − c₀:
    value = (1 − a)((1 − b) I[r₀, c₀] + b I[r₀, c₀ + 1]) + a((1 − b) I[r₀ + 1, c₀] + b I[r₀ + 1, c₀ + 1]).
    The images get a border of zeros, and coordinates are clipped into it.
    """
    n, height, width = images.shape
    padded = np.pad(images, ((0, 0), (1, 2), (1, 2)))               # zero rows/cols at −1, H and H + 1
    pw = width + 3
    rows = np.clip(rows, -1, height)
    cols = np.clip(cols, -1, width)
    r0, c0 = np.floor(rows), np.floor(cols)
    a, b = rows - r0, cols - c0
    index = (np.arange(n) * (height + 3) * pw)[:, None, None] + (r0.astype(np.intp) + 1) * pw + c0.astype(np.intp) + 1
    flat = padded.reshape(-1)
    top = flat[index] * (1 - b) + flat[index + 1] * b
    bottom = flat[index + pw] * (1 - b) + flat[index + pw + 1] * b
    return top * (1 - a) + bottom * a
