"""A person's digit → an MNIST-like 28×28 image (bright ink on black, [0, 1]).

MNIST digits were size-normalized to fit a 20×20 box (keeping the aspect
ratio) and centred by their centre of mass in a 28×28 field. A photographed or
drawn digit must go through the same steps, or the network sees something
unlike anything it was trained on:

1. grayscale in [0, 1]; dark ink on light paper is inverted;
2. a large photo is shrunk by area averaging, and its uneven lighting
   (shadows, gradients) is estimated by grey morphology and removed;
3. the ink stretched to [0, 1]: the strokes above an Otsu threshold, with the rim of faint
   pixels joined to them that rise above the background's noise; the noise is removed;
4. cropped to the ink, scaled into 20×20, centred by centre of mass in 28×28 at pixel (14, 14)
   (row and column indices from 0): all but 2 of MNIST's 70,000 digits have theirs within half a pixel of it.

A digit already in MNIST form (black background, 20 pixels on its longer side, centred so) comes
through nearly unchanged, as it should (measured in docs/share.md).

Shared by ``glassnet predict`` and the web page, so both see the same input.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

FloatImage = NDArray[np.float32]

MAX_SIDE = 256          # larger images are shrunk to this longest side first
MIN_SIDE_FOR_BACKGROUND = 64
BAND_PIXELS = 1_000_000  # huge images are converted in bands of this many pixels (float copies stay small)
NOISE_SIGMAS = 5.0       # background noise lies below its median + this many robust standard deviations


def to_unit_gray(image: NDArray) -> FloatImage:  # type: ignore[type-arg]
    """(H, W) or (H, W, 3|4) array, uint8 or float in [0, 1] → (H, W) float32 in [0, 1]."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        gray = np.empty(image.shape[:2], np.float32)
        rows = max(1, BAND_PIXELS // max(1, image.shape[1]))  # no full-size float copy of the color
        for top in range(0, image.shape[0], rows):             # image, only of its gray result
            gray[top:top + rows] = _luma(image[top:top + rows])
        image = gray
    elif image.dtype == np.uint8:
        image = image / np.float32(255.0)
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(f"expected a 2-D grayscale or (H, W, 3|4) color image, got shape {image.shape}")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ValueError(f"expected a numeric image, got dtype {image.dtype}")
    image = image.astype(np.float32, copy=False)
    if not np.isfinite(image).all():
        raise ValueError("the image contains NaN or inf")
    if image.min() < 0.0 or image.max() > 1.0:
        raise ValueError(f"pixel values must lie in [0, 1] (or be uint8), got {image.min():g} to {image.max():g}")
    return image


def _luma(color: NDArray) -> FloatImage:  # type: ignore[type-arg]
    """(H, W, 3|4) color, uint8 or float in [0, 1] → (H, W) float32 luma, transparent parts on white paper."""
    white = 255.0 if color.dtype == np.uint8 else 1.0
    gray = color[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)   # ITU-R 601 luma
    if color.shape[2] == 4:                                            # composite onto white paper
        alpha = color[..., 3].astype(np.float32) / white
        gray = gray * alpha + white * (1.0 - alpha)
    return gray / np.float32(white) if color.dtype == np.uint8 else gray


def resize_matrix(n_in: int, n_out: int) -> NDArray[np.float32]:
    """(n_out, n_in) weights of area resampling: each output pixel averages the input span it covers."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    starts, stops = edges[:-1, None], edges[1:, None]
    pixels = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(stops, pixels + 1) - np.maximum(starts, pixels), 0.0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def _resize_axis(image: NDArray[np.float64], n_out: int, axis: int) -> NDArray[np.float64]:
    """Area resampling along one axis through cumulative sums: what ``resize_matrix`` computes, in memory
    proportional to the image rather than to n_in × n_out (a 10,000,000×1 image would need 19 GiB)."""
    n_in = image.shape[axis]
    if n_in == n_out:
        return image
    moved = np.moveaxis(image, axis, 0)
    total = np.concatenate([np.zeros((1, moved.shape[1])), np.cumsum(moved, axis=0)])   # Σ of the first k rows
    edges = np.linspace(0.0, n_in, n_out + 1)
    whole = np.floor(edges).astype(np.intp)
    below = total[np.minimum(whole, n_in)]                       # Σ up to the whole row below each edge
    within = moved[np.minimum(whole, n_in - 1)]                  # the row each edge cuts
    at_edge = below + (edges - whole)[:, None] * within          # Σ up to the fractional edge
    return np.moveaxis((at_edge[1:] - at_edge[:-1]) / np.diff(edges)[:, None], 0, axis)


def resize(image: FloatImage, height: int, width: int) -> FloatImage:
    """Area resampling to (height, width), axis by axis: R_h · image · R_wᵀ with R = ``resize_matrix``."""
    rows = np.empty((height, image.shape[1]), np.float64)
    band = max(1, BAND_PIXELS // image.shape[0])         # columns resample independently, so in bands
    for left in range(0, image.shape[1], band):
        rows[:, left:left + band] = _resize_axis(np.asarray(image[:, left:left + band], np.float64), height, 0)
    return _resize_axis(rows, width, 1).astype(np.float32)


def _filter_1d(image: FloatImage, size: int, axis: int, reduce: str) -> FloatImage:
    """Running min or max over ``size`` pixels along ``axis`` (edges repeated)."""
    pad = [(0, 0), (0, 0)]
    pad[axis] = (size // 2, size // 2)
    windows = sliding_window_view(np.pad(image, pad, mode="edge"), size, axis=axis)
    return windows.min(axis=-1) if reduce == "min" else windows.max(axis=-1)


def _grey_opening(image: FloatImage, size: int) -> FloatImage:
    """Minimum then maximum filter over size×size squares (each done as two 1-D passes):
    removes bright details narrower than ``size`` (the strokes) and keeps the slow background."""
    eroded = _filter_1d(_filter_1d(image, size, 0, "min"), size, 1, "min")
    return _filter_1d(_filter_1d(eroded, size, 0, "max"), size, 1, "max")


def otsu_threshold(image: FloatImage, bins: int = 64) -> float:
    """The level that best separates two classes of pixels (maximum between-class variance)."""
    counts, edges = np.histogram(image, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(counts * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def clean_ink(image: FloatImage) -> FloatImage:
    """Grayscale in [0, 1] → bright ink on a zero background, stretched to [0, 1], cropped to the ink.

    The ink is the strokes (above the Otsu level) with every pixel joined to them that stands above the
    background's noise (hysteresis thresholding): an anti-aliased rim stays whole, and on a clean black
    background, where the noise floor is 0, no pixel of the digit is changed.

    A photo is paper reflectance × uneven light. On light paper the light is
    estimated by a grey closing (which erases the dark strokes) and divided
    out, a flat-field correction; on a dark background a grey opening is subtracted.
    """
    if max(image.shape) > MAX_SIDE:
        scale = MAX_SIDE / max(image.shape)
        image = resize(image, max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
    large = min(image.shape) >= MIN_SIDE_FOR_BACKGROUND
    window = max(image.shape) // 4 | 1                   # odd, wider than any stroke
    if np.median(image) > 0.5:                           # dark ink on light paper
        if large:
            light = 1.0 - _grey_opening(1.0 - image, window)
            image = np.clip(image / np.maximum(light, 1e-3), 0.0, 1.0)
        image = 1.0 - image
    if large:
        image = np.clip(image - _grey_opening(image, window), 0.0, None)
    else:
        image = np.clip(image - np.median(image), 0.0, None)
    peak = float(np.percentile(image, 99.5)) if image.size > 400 else float(image.max())
    peak = max(peak, float(image.max()) * 0.5)
    if peak < 0.05:                                       # nothing that looks like ink
        return np.zeros((1, 1), np.float32)
    image = np.clip(image / peak, 0.0, 1.0)
    threshold = otsu_threshold(image)
    core = image > threshold                              # the strokes proper; specks of noise stay below
    floor = min(noise_floor(image[~core]), threshold)
    ink = grow(core, image > floor)                       # with their anti-aliased rim, not specks apart
    rows, cols = np.nonzero(ink)
    box = slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)
    image = np.where(ink[box], image[box], 0.0)
    return np.clip((image - floor) / (1.0 - floor), 0.0, 1.0).astype(np.float32)


def noise_floor(background: FloatImage, n_sigmas: float = NOISE_SIGMAS) -> float:
    """The level noise on the background stays under: its median + ``n_sigmas`` robust standard deviations
    (1.4826 × the median absolute deviation); 0 on a clean, black background."""
    median = float(np.median(background)) if background.size else 0.0
    spread = 1.4826 * float(np.median(np.abs(background - median))) if background.size else 0.0
    return median + n_sigmas * spread


def grow(seed: NDArray[np.bool_], allowed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The pixels of ``allowed`` 8-connected to ``seed`` through ``allowed`` (hysteresis thresholding):
    a flood fill from the seed, one visit per pixel, whatever the shape."""
    width = seed.shape[1] + 2
    ok = np.pad(allowed, 1).ravel().tolist()              # a border of False: no bounds to check
    grown = np.pad(seed & allowed, 1).ravel().tolist()
    neighbours = (-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1)
    stack = [i for i, inside in enumerate(grown) if inside]
    while stack:
        i = stack.pop()
        for step in neighbours:
            j = i + step
            if ok[j] and not grown[j]:
                grown[j] = True
                stack.append(j)
    return np.array(grown, bool).reshape(-1, width)[1:-1, 1:-1]


def center_by_mass(patch: FloatImage, size: int = 28) -> FloatImage:
    """Paste ``patch`` into a size×size field so that its centre of mass lands at the centre, pixel
    (size/2, size/2) to the nearest pixel: MNIST's convention (see the module's docstring)."""
    field = np.zeros((size, size), np.float32)
    total = patch.sum()
    rows, cols = np.indices(patch.shape)
    com_r, com_c = ((rows * patch).sum() / total, (cols * patch).sum() / total) if total > 0 else \
        ((patch.shape[0] - 1) / 2, (patch.shape[1] - 1) / 2)
    top = int(np.clip(round(size / 2 - com_r), 0, size - patch.shape[0]))
    left = int(np.clip(round(size / 2 - com_c), 0, size - patch.shape[1]))
    field[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
    return field


def preprocess_digit(image: NDArray, *, box: int = 20, size: int = 28) -> FloatImage:  # type: ignore[type-arg]
    """Any grayscale or color image of one digit → (28, 28) float32 MNIST-style; blank stays blank."""
    crop = clean_ink(to_unit_gray(image))
    if not crop.any():
        return np.zeros((size, size), np.float32)
    scale = box / max(crop.shape)
    height, width = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    patch = np.clip(resize(crop, height, width), 0.0, 1.0)
    return center_by_mass(patch / max(float(patch.max()), 1e-6), size)
