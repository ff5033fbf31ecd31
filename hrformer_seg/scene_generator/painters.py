"""Class-specific textures: window grids on facades, paving joints in
perspective, leafy noise, fence lattices, lane markings, ...

A painter factory draws an object's style (colours, sizes, patterns) from
the scene's random generator and returns a :data:`Painter`, which the
canvas calls once with the pixel coordinates of the object's bounding box
and the same generator (for the grain and noise). Painted colours are float
RGB, roughly in [0, 255]; the canvas keeps the pixels inside the polygon.
"""
from typing import Callable, List, Sequence, Tuple

import cv2
import numpy as np

from .geometry import Span, StreetGeometry

#: ``paint(ys, xs, rng) -> (h, w, 3) float32 RGB``: ``ys`` and ``xs`` are
#: (h, w) float32 rows and columns of the pixels of the object's bounding
#: box (read-only broadcast views).
Painter = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]
#: ``alpha(ys, xs) -> (h, w)`` float opacity in [0, 1] of a painted texture
#: over what was painted before (same ``ys``, ``xs`` as :data:`Painter`).
Alpha = Callable[[np.ndarray, np.ndarray], np.ndarray]
RGB = Tuple[float, float, float]

#: Car body colours (RGB), drawn uniformly.
CAR_COLOURS: List[RGB] = [
    (235, 235, 235), (25, 25, 28), (150, 152, 155), (95, 98, 100),
    (160, 25, 30), (30, 55, 120), (25, 70, 45), (185, 170, 140)]


# ----------------------------------------------------------------------------
# colours and noise
# ----------------------------------------------------------------------------
def smooth_noise(rng: np.random.Generator, h: int, w: int,
                 cell: float) -> np.ndarray:
    """Band-limited noise of roughly unit std, features about ``cell`` px.

    Args:
        rng: random generator.
        h: output height.
        w: output width.
        cell: feature size in pixels (at least 1).

    Returns:
        (h, w) float32 noise.
    """
    cell = max(cell, 1.0)
    gh, gw = int(h / cell) + 3, int(w / cell) + 3
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * cell), int(gh * cell)),
                     interpolation=cv2.INTER_CUBIC)
    oy = int(rng.integers(0, max(big.shape[0] - h, 0) + 1))
    ox = int(rng.integers(0, max(big.shape[1] - w, 0) + 1))
    out = big[oy:oy + h, ox:ox + w]
    if out.shape != (h, w):  # tiny boxes
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def jitter(rng: np.random.Generator, rgb: Sequence[float],
           amount: float) -> np.ndarray:
    """A colour with Gaussian noise of std ``amount`` per channel.

    Returns:
        (3,) float32 RGB, clipped to [0, 255].
    """
    return np.clip(np.asarray(rgb, np.float32) +
                   rng.normal(0, amount, 3).astype(np.float32), 0, 255)


def gray(rng: np.random.Generator, lo: float, hi: float,
         tint: float = 6.0) -> np.ndarray:
    """A gray of uniform level in [lo, hi], tinted by :func:`jitter`.

    Returns:
        (3,) float32 RGB.
    """
    v = rng.uniform(lo, hi)
    return jitter(rng, (v, v, v), tint)


def fill(colour: np.ndarray, noise: float = 4.0) -> Painter:
    """A flat colour with fine grain.

    Args:
        colour: (3,) RGB.
        noise: std of the grain (the same for the three channels).
    """

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = colour
        return out + noise * rng.standard_normal((h, w, 1), dtype=np.float32)

    return paint


# ----------------------------------------------------------------------------
# sky and ground
# ----------------------------------------------------------------------------
def sky_painter(rng: np.random.Generator, g: StreetGeometry) -> Painter:
    """Clear (blue gradient) or overcast sky, with clouds."""
    overcast = rng.random() < 0.45
    if overcast:
        top = gray(rng, 150, 215, 8) + np.array([0, 3, 10], np.float32)
        bottom = np.clip(top + rng.uniform(5, 30), 0, 255)
    else:
        top = jitter(rng, (60, 120, 200), 15)
        bottom = jitter(rng, (165, 195, 230), 12)
    clouds = rng.uniform(0.0, 1.0)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        t = np.clip(ys / max(g.yh, 1), 0, 1)[..., None]
        col = top * (1 - t) + bottom * t
        cl = smooth_noise(rng, *ys.shape, g.w * 0.12)
        cl = np.clip(cl - 0.3, 0, None)[..., None] * clouds
        col = col + cl * (np.array([235, 235, 240], np.float32) - col) * 0.6
        return col + 1.5 * rng.standard_normal(ys.shape + (1, ),
                                               dtype=np.float32)

    return paint


def road_painter(rng: np.random.Generator, g: StreetGeometry) -> Painter:
    """Asphalt with repairs and lane markings in perspective."""
    base = gray(rng, 55, 120, 5)
    marking = gray(rng, 185, 235, 4)
    n_lanes = int(rng.integers(2, 4))
    dash = rng.uniform(0.15, 0.3)
    mark_w = rng.uniform(0.012, 0.02)  # in road-width units

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        out += (smooth_noise(rng, h, w, g.w * 0.08) * 7)[..., None]
        out += 6 * rng.standard_normal((h, w, 1), dtype=np.float32)
        # patches of repaired asphalt and tyre tracks
        patches = smooth_noise(rng, h, w, g.w * 0.15)
        out[patches > 1.0] *= 0.85
        # lane markings: lateral position u in [0, 1] across the road
        d = np.maximum(ys - g.yh, 1e-3)
        left = g.xv + (g.road_l - g.xv) * d / (g.h - g.yh)
        right = g.xv + (g.road_r - g.xv) * d / (g.h - g.yh)
        u = (xs - left) / np.maximum(right - left, 1e-3)
        depth = 1.0 / d  # proportional to distance
        dashes = np.mod(depth * g.h * 1.2, 1.0) < dash * 2
        lines = np.zeros((h, w), bool)
        for k in range(1, n_lanes):
            lines |= np.abs(u - k / n_lanes) < mark_w
        lines &= dashes
        lines |= (np.abs(u - 0.02) < mark_w * 0.7) | (np.abs(u - 0.98)
                                                      < mark_w * 0.7)
        out[lines] = marking + rng.normal(0, 4, (int(lines.sum()), 1))
        return out

    return paint


def sidewalk_painter(rng: np.random.Generator, g: StreetGeometry,
                     side: int) -> Painter:
    """Paving slabs in perspective and a light curb along the road."""
    kind = rng.random()
    if kind < 0.55:
        base = gray(rng, 110, 180, 6)
    elif kind < 0.8:
        base = jitter(rng, (175, 160, 140), 12)
    else:
        base = jitter(rng, (165, 110, 100), 12)
    tile = rng.uniform(0.6, 1.2)
    joint = rng.uniform(0.55, 0.8)
    curb = gray(rng, 150, 210, 4)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        out += (smooth_noise(rng, h, w, g.w * 0.05) * 8)[..., None]
        out += 5 * rng.standard_normal((h, w, 1), dtype=np.float32)
        a, b = g.ground_grid(ys, xs, tile)
        joints = (np.abs(np.mod(a, 1) - 0.5) > 0.45) | (
            np.abs(np.mod(b, 1) - 0.5) > 0.42)
        out[joints] *= joint
        # light curb along the road edge
        edge = np.array([g.road_edge(y, side) for y in ys[:, 0]])[:, None]
        width = 0.012 * g.w + 0.05 * np.maximum(ys - g.yh, 0)
        near_curb = np.abs(xs - edge) < width * 0.35
        out[near_curb] = curb
        return out

    return paint


def terrain_painter(rng: np.random.Generator,
                    g: StreetGeometry) -> Painter:
    """Grass (or dry grass and soil) with fine vertical blades."""
    if rng.random() < 0.75:
        base = np.array([rng.uniform(80, 140), rng.uniform(135, 190),
                         rng.uniform(45, 85)], np.float32)
    else:  # dry grass / soil
        base = jitter(rng, (150, 135, 90), 12)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        out += (smooth_noise(rng, h, w, g.w * 0.06) * 10)[..., None]
        # fine vertical blades
        blades = cv2.resize(rng.standard_normal((max(h // 3, 1), w)).astype(
            np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        out += (blades * 9)[..., None]
        return out

    return paint


# ----------------------------------------------------------------------------
# buildings, walls, fences
# ----------------------------------------------------------------------------
def facade_painter(rng: np.random.Generator, g: StreetGeometry, side: int,
                   top_y0: float) -> Painter:
    """A facade with a window grid in perspective, maybe shop windows.

    Args:
        rng: random generator.
        g: the scene's geometry.
        side: -1 left, 1 right.
        top_y0: row of the facade's top line at the image border.
    """
    kind = rng.random()
    if kind < 0.35:
        base = gray(rng, 95, 200, 8)
    elif kind < 0.6:
        base = jitter(rng, (195, 175, 145), 15)
    elif kind < 0.8:
        base = jitter(rng, (150, 85, 65), 15)
    else:
        base = gray(rng, 200, 235, 5)
    glass = rng.random() < 0.5
    win = jitter(rng, (55, 65, 80), 12) if not glass else \
        jitter(rng, (120, 145, 170), 15)
    rows = rng.uniform(4, 9)      # floors over the facade height
    cols = rng.uniform(10, 22)    # window columns per unit of 1 / t below
    wfrac = rng.uniform(0.35, 0.65)
    hfrac = rng.uniform(0.35, 0.6)
    shop = rng.random() < 0.5

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        out += (smooth_noise(rng, h, w, g.w * 0.1) * 9)[..., None]
        out += 4 * rng.standard_normal((h, w, 1), dtype=np.float32)
        # t: 0 at the vanishing point, 1 at the image border
        t = (g.xv - xs) / g.xv if side < 0 else (xs - g.xv) / (g.w - g.xv)
        t = np.clip(t, 1e-3, 1)
        base_row = g.yh + t * ((g.base_l if side < 0 else g.base_r) - g.yh)
        top_row = g.yh + t * (top_y0 - g.yh)
        v = (ys - top_row) / np.maximum(base_row - top_row, 1e-3)  # 0 top
        # perspective: equal steps of 1/t are equal steps along the facade
        u = 1.0 / t
        windows = (np.mod(v * rows, 1) < hfrac) & (
            np.mod(u * cols / 8, 1) < wfrac) & (v > 0.06) & (v < 0.82)
        out[windows] = win + rng.normal(0, 8, (int(windows.sum()), 1))
        if shop:
            band = (v > 0.86) & (v < 0.97) & (np.mod(u * cols / 16, 1) < 0.7)
            out[band] = win * 0.8
        return out

    return paint


def wall_painter(rng: np.random.Generator, span: Span) -> Painter:
    """Concrete blocks, sandstone or brick courses along ``span``."""
    kind = rng.random()
    if kind < 0.45:  # concrete blocks
        base = gray(rng, 105, 185, 8)
    elif kind < 0.75:  # sandstone
        base = jitter(rng, (180, 160, 130), 12)
    else:  # brick
        base = jitter(rng, (145, 75, 55), 12)
    courses = int(rng.integers(3, 7))
    aspect = rng.uniform(1.5, 3.0)  # block width / course height
    shade = rng.uniform(-25, 25, (8, 16)).astype(np.float32)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        h, w = ys.shape
        v, u = span.coords(ys, xs, aspect / courses)
        row = np.floor(v * courses)
        uu = u + 0.5 * np.mod(row, 2)
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        idx = (np.mod(row, 8).astype(int), np.mod(np.floor(uu), 16).astype(
            int))
        out += shade[idx][..., None]
        out += 4 * rng.standard_normal((h, w, 1), dtype=np.float32)
        joints = (np.mod(v * courses, 1) < 0.15) | (np.mod(uu, 1) < 0.08)
        out[joints] *= 0.5
        out[v < 0.08] += 20  # lighter coping
        return out

    return paint


def fence_painter(rng: np.random.Generator,
                  span: Span) -> Tuple[Painter, Alpha]:
    """A metal or wooden fence along ``span``: bars or a chain-link mesh
    between rails, the background showing through.

    Returns:
        (painter, alpha): the fence colour and its opacity (1 on bars and
        rails, 0 between them).
    """
    metal = rng.random() < 0.6
    col = gray(rng, 35, 100, 6) if metal else jitter(rng, (125, 95, 65), 12)
    bars = rng.uniform(0.12, 0.25)  # bar spacing / local height
    bar = rng.uniform(0.45, 0.6)
    diagonal = rng.random() < 0.4

    def alpha(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        v, u = span.coords(ys, xs, bars)
        top, bot = span.rows(xs[0])
        # never finer than 3 px between bars
        step = np.maximum(1.0, 3.0 / np.maximum(bars * (bot - top), 1e-3))
        u = u / step[None]
        if diagonal:  # chain-link mesh
            m = (np.mod(u + v / bars / 2, 1) < bar) | (
                np.mod(u - v / bars / 2, 1) < bar)
        else:
            m = np.mod(u, 1) < bar
        rails = (v < 0.1) | (v > 0.9) | (np.abs(v - 0.5) < 0.05)
        return (m | rails).astype(np.float32)

    return fill(col, 6), alpha


# ----------------------------------------------------------------------------
# poles, signs, vegetation
# ----------------------------------------------------------------------------
def pole_painter(rng: np.random.Generator, x_c: float,
                 half_w: float) -> Painter:
    """A gray (or green) pole shaded as a cylinder.

    Args:
        rng: random generator.
        x_c: centre column of the pole.
        half_w: half its width.
    """
    col = gray(rng, 80, 170, 5) if rng.random() < 0.75 else \
        jitter(rng, (50, 70, 55), 8)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        r = np.clip((xs - x_c) / max(half_w, 0.5), -1, 1)
        shade = 1.15 - 0.45 * (r + 0.3) ** 2  # cylinder highlight
        out = col * shade[..., None]
        return out + 4 * rng.standard_normal(ys.shape + (1,), dtype=np.float32)

    return paint


def sign_painter(rng: np.random.Generator, cx: float, cy: float, r: float,
                 kind: str) -> Painter:
    """A traffic sign: rim, face and a bar symbol.

    Args:
        rng: random generator.
        cx: centre column.
        cy: centre row.
        r: radius (half the height).
        kind: 'prohibit', 'mandatory' (round), 'warning', 'priority' or
            'info'.
    """
    if kind == 'prohibit':
        rim, face = (200, 30, 35), (235, 235, 235)
    elif kind == 'mandatory':
        rim, face = (235, 235, 235), (30, 80, 170)
    elif kind == 'warning':
        rim, face = (200, 30, 35), (235, 225, 210)
    elif kind == 'priority':
        rim, face = (235, 235, 235), (240, 195, 30)
    else:  # info board
        rim, face = (240, 240, 240), (25, 90, 160)
    rim, face = jitter(rng, rim, 10), jitter(rng, face, 10)
    symbol = gray(rng, 20, 60, 5)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        d = np.maximum(np.abs(xs - cx) / r, np.abs(ys - cy) / r)
        dr = np.hypot(xs - cx, ys - cy) / r
        dist = dr if kind in ('prohibit', 'mandatory') else d
        out = np.where((dist > 0.72)[..., None], rim, face).astype(np.float32)
        sym = (np.abs(ys - cy) < 0.12 * r) & (np.abs(xs - cx) < 0.4 * r)
        if kind == 'mandatory':
            sym = (np.abs(xs - cx) < 0.1 * r) & (np.abs(ys - cy) < 0.45 * r)
        out[sym] = symbol
        return out + 4 * rng.standard_normal(ys.shape + (1,), dtype=np.float32)

    return paint


def foliage_painter(rng: np.random.Generator, g: StreetGeometry,
                    dark: float = 1.0) -> Painter:
    """Leafy noise with dark holes between the leaves.

    Args:
        rng: random generator.
        g: the scene's geometry (leaf size follows the image width).
        dark: brightness factor of the green.
    """
    base = np.array([rng.uniform(40, 95), rng.uniform(75, 140),
                     rng.uniform(25, 70)], np.float32) * dark
    scale = rng.uniform(0.012, 0.025)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        h, w = ys.shape
        n1 = smooth_noise(rng, h, w, g.w * scale)
        n2 = smooth_noise(rng, h, w, g.w * scale * 3)
        light = 1 + 0.28 * n1 + 0.15 * n2
        out = base * light[..., None]
        out[(n1 + 0.5 * n2) < -1.0] *= 0.45  # deep holes between leaves
        return out + 6 * rng.standard_normal((h, w, 1), dtype=np.float32)

    return paint


def trunk_painter(rng: np.random.Generator) -> Painter:
    """A brown tree trunk."""
    return fill(jitter(rng, (85, 65, 45), 10), 6)


# ----------------------------------------------------------------------------
# people and vehicles
# ----------------------------------------------------------------------------
def person_painter(rng: np.random.Generator, top: float,
                   height: float) -> Painter:
    """Hair, skin, shirt and trousers in horizontal bands.

    Args:
        rng: random generator.
        top: row of the top of the head.
        height: the person's height in pixels.
    """
    shirt = rng.uniform(20, 230, 3).astype(np.float32)
    if rng.random() < 0.4:
        shirt = gray(rng, 25, 200, 6)
    pants = jitter(rng, [(40, 45, 60), (45, 60, 110), (160, 145, 120),
                         (30, 30, 30)][int(rng.integers(4))], 10)
    skin = jitter(rng, [(225, 185, 160), (190, 140, 105),
                        (120, 85, 60)][int(rng.integers(3))], 8)
    hair = gray(rng, 20, 90, 10)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        rel = (ys - top) / max(height, 1)
        out = np.empty(ys.shape + (3,), np.float32)
        out[:] = pants
        out[rel < 0.55] = shirt
        out[rel < 0.17] = skin
        out[rel < 0.07] = hair
        return out + 6 * rng.standard_normal(ys.shape + (1,), dtype=np.float32)

    return paint


def car_painter(rng: np.random.Generator, x0: float, x1: float,
                y_top: float, y_bot: float, rear: bool) -> Painter:
    """A car body with glass and wheels; seen from behind (lights and a
    plate) or from the side (two windows).

    Args:
        rng: random generator.
        x0: left column of the car.
        x1: right column.
        y_top: top row.
        y_bot: bottom row (the ground).
        rear: seen from behind.
    """
    body = jitter(rng, CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))], 10)
    glass = jitter(rng, (45, 55, 65), 8)
    tyre = gray(rng, 15, 35, 3)
    light = jitter(rng, (200, 40, 40), 10)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        w = max(x1 - x0, 1)
        h = max(y_bot - y_top, 1)
        u = (xs - x0) / w
        v = (ys - y_top) / h
        out = body * (1.15 - 0.35 * v)[..., None]
        out = np.broadcast_to(out, ys.shape + (3,)).copy()
        cabin_glass = (v > 0.07) & (v < 0.36) & (u > 0.16) & (u < 0.84)
        if not rear:  # side windows split by a pillar
            cabin_glass &= np.abs(u - 0.5) > 0.03
        out[cabin_glass] = glass + 30 * (0.36 - v[cabin_glass])[:, None] * 2
        wheels = (v > 0.8) & ((np.abs(u - 0.2) < 0.1) |
                              (np.abs(u - 0.8) < 0.1))
        if rear:
            wheels = (v > 0.86) & ((u < 0.16) | (u > 0.84))
            lights = (v > 0.45) & (v < 0.58) & ((u < 0.14) | (u > 0.86))
            out[lights] = light
            plate = (v > 0.62) & (v < 0.74) & (np.abs(u - 0.5) < 0.12)
            out[plate] = (225, 225, 220)
        out[wheels] = tyre
        return out + 5 * rng.standard_normal(ys.shape + (1,), dtype=np.float32)

    return paint


def bonnet_painter(rng: np.random.Generator, width: int) -> Painter:
    """The ego vehicle's dark bonnet with a highlight in the middle.

    Args:
        rng: random generator.
        width: image width.
    """
    col = gray(rng, 20, 70, 8)

    def paint(ys: np.ndarray, xs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        out = np.empty(ys.shape + (3,), np.float32)
        out[:] = col
        out += (30 * np.exp(-((xs / width - 0.5) * 4) ** 2))[..., None]
        return out

    return paint
