"""Street scenes in the Cityscapes format, generated from a seed.

Every scene is a list of labelled polygons in drawing order, back to front,
exactly as in the ``*_gtFine_polygons.json`` files of Cityscapes. The same
polygons give both the label map and the image: each polygon is rasterised
with Pillow's ``ImageDraw.polygon`` (the call cityscapesscripts'
``json2labelImg`` makes), so converting the JSON with cityscapesscripts
reproduces the generator's own label map pixel for pixel.

The image is painted object by object with class-specific textures (window
grids on facades, paving joints in perspective, leafy noise, fence lattices,
lane markings, ...), then lit (global gain, colour cast, cast shadows,
vignetting) and noised, so that colour alone does not decide the class:
overcast sky and light facades, asphalt, paving, concrete walls and poles,
grass and foliage share colours and are told apart by texture, shape and
position.

Object sizes follow a pinhole camera over a flat ground: an object whose foot
is ``d`` pixels below the horizon is ``d * real_height / camera_height``
pixels tall. Thin classes are kept wide enough to be learnable at the demo
size (about 128x256, stride-4 output 32x64): poles are at least 3% of the
image width wide (7-8 px at 256, two output pixels) and signs at least 7%.

Classes drawn (train IDs): road 0, sidewalk 1, building 2, wall 3, fence 4,
pole 5, traffic sign 7, vegetation 8, terrain 9, sky 10, person 11, car 13,
plus the ignored ``ego vehicle`` at the bottom of some images. Traffic light,
rider, truck, bus, train, motorcycle and bicycle never appear: they are
NaN in the IoU and drop out of the mean. Wall, fence, traffic sign and person
can be left out too (``exclude``) for an easier dataset.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw

# Cityscapes label IDs and train IDs of the classes the generator draws (as in
# cityscapesscripts.helpers.labels; tests check them against it).
LABEL_IDS: Dict[str, int] = {
    'unlabeled': 0, 'ego vehicle': 1, 'road': 7, 'sidewalk': 8,
    'building': 11, 'wall': 12, 'fence': 13, 'pole': 17,
    'traffic sign': 20, 'vegetation': 21, 'terrain': 22, 'sky': 23,
    'person': 24, 'car': 26,
}
TRAIN_IDS: Dict[str, int] = {
    'unlabeled': 255, 'ego vehicle': 255, 'road': 0, 'sidewalk': 1,
    'building': 2, 'wall': 3, 'fence': 4, 'pole': 5, 'traffic sign': 7,
    'vegetation': 8, 'terrain': 9, 'sky': 10, 'person': 11, 'car': 13,
}
#: Names of the train classes the generator draws, in train-ID order.
DRAWN_CLASSES: Tuple[str, ...] = tuple(
    name for name, tid in sorted(TRAIN_IDS.items(), key=lambda kv: kv[1])
    if tid != 255)

#: Classes that may be left out of the scenes (``exclude``): their objects
#: simply vanish, leaving what was behind them.
OPTIONAL_CLASSES: Tuple[str, ...] = ('wall', 'fence', 'traffic sign',
                                     'person')

#: Real Cityscapes city names per split (the generator uses them round-robin).
CITIES: Dict[str, Tuple[str, ...]] = {
    'train': ('aachen', 'bochum', 'bremen'),
    'val': ('frankfurt', 'lindau', 'munster'),
    'test': ('berlin', 'bielefeld', 'bonn'),
}
SPLIT_INDEX = {'train': 0, 'val': 1, 'test': 2}

# A label-ID -> train-ID lookup table over all 256 values.
ID_TO_TRAIN_ID = np.full(256, 255, dtype=np.uint8)
for _name, _id in LABEL_IDS.items():
    ID_TO_TRAIN_ID[_id] = TRAIN_IDS[_name]

Polygon = List[Tuple[int, int]]
Painter = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Scene:
    """One rendered street scene.

    Attributes:
        image: (H, W, 3) uint8 RGB image.
        label_ids: (H, W) uint8 Cityscapes label IDs (as ``*_labelIds.png``).
        objects: the polygons in drawing order, each
            ``{'label': name, 'polygon': [[x, y], ...]}`` with int coordinates.
    """

    image: np.ndarray
    label_ids: np.ndarray
    objects: List[dict] = field(default_factory=list)

    @property
    def train_ids(self) -> np.ndarray:
        """(H, W) uint8 train IDs (as ``*_labelTrainIds.png``), 255 ignored."""
        return ID_TO_TRAIN_ID[self.label_ids]

    def to_json(self) -> dict:
        """The ``*_gtFine_polygons.json`` content of the scene."""
        h, w = self.label_ids.shape
        return dict(imgHeight=h, imgWidth=w, objects=self.objects)


def rasterise(polygon: Sequence[Sequence[int]], height: int,
              width: int) -> np.ndarray:
    """Pixels covered by ``polygon`` as cityscapesscripts draws it.

    Args:
        polygon: [(x, y), ...] int vertices (may lie outside the image).
        height: image height.
        width: image width.

    Returns:
        (H, W) bool mask.
    """
    canvas = Image.new('L', (width, height), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in polygon], fill=1)
    return np.asarray(canvas, dtype=bool)


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------
def _smooth_noise(rng: np.random.Generator, h: int, w: int,
                  cell: float) -> np.ndarray:
    """Band-limited noise of roughly unit std, features about ``cell`` px."""
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


def _jitter(rng: np.random.Generator, rgb: Sequence[float],
            amount: float) -> np.ndarray:
    return np.clip(np.asarray(rgb, np.float32) +
                   rng.normal(0, amount, 3).astype(np.float32), 0, 255)


def _gray(rng: np.random.Generator, lo: float, hi: float,
          tint: float = 6.0) -> np.ndarray:
    v = rng.uniform(lo, hi)
    return _jitter(rng, (v, v, v), tint)


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 16,
             rng: Optional[np.random.Generator] = None,
             wobble: float = 0.0) -> Polygon:
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    if rng is not None and wobble > 0:
        r = 1 + rng.uniform(-wobble, wobble, n)
    return _ints(zip(cx + rx * r * np.cos(ang), cy + ry * r * np.sin(ang)))


def _ints(points) -> Polygon:
    return [(int(round(x)), int(round(y))) for x, y in points]


def _fill(colour: np.ndarray, noise: float = 4.0) -> Painter:
    """A flat colour with fine grain."""

    def paint(ys, xs, rng):
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = colour
        return out + noise * rng.standard_normal((h, w, 1), dtype=np.float32)

    return paint


# ----------------------------------------------------------------------------
# the renderer
# ----------------------------------------------------------------------------
class _Canvas:
    """Paints labelled polygons back to front."""

    def __init__(self, height: int, width: int, rng: np.random.Generator,
                 exclude: Sequence[str] = ()):
        self.h, self.w, self.rng = height, width, rng
        self.exclude = set(exclude)
        self.img = np.zeros((height, width, 3), np.float32)
        self.label = np.zeros((height, width), np.uint8)
        self.objects: List[dict] = []

    def add(self, name: str, polygon: Polygon, painter: Painter,
            alpha: Optional[Callable] = None) -> Optional[tuple]:
        """Draw one object; returns its bounding box or None if invisible
        (or of an excluded class).

        ``alpha(ys, xs) -> (h, w)`` in [0, 1] blends the painted texture over
        what is already there (fences let the background show through); the
        label covers the whole polygon regardless, as in Cityscapes.
        """
        if name in self.exclude:
            return None
        canvas = Image.new('L', (self.w, self.h), 0)
        ImageDraw.Draw(canvas).polygon([tuple(p) for p in polygon], fill=1)
        bbox = canvas.getbbox()
        if bbox is None:
            return None
        x0, y0, x1, y1 = bbox
        sub = np.asarray(canvas.crop(bbox), dtype=bool)
        shape = (y1 - y0, x1 - x0)
        ys = np.broadcast_to(
            np.arange(y0, y1, dtype=np.float32)[:, None], shape)
        xs = np.broadcast_to(
            np.arange(x0, x1, dtype=np.float32)[None, :], shape)
        tex = painter(ys, xs, self.rng)
        region = self.img[y0:y1, x0:x1]
        if alpha is not None:
            a = alpha(ys, xs)[..., None]
            tex = a * tex + (1 - a) * region * 0.6
        np.copyto(region, tex, where=sub[..., None])
        np.copyto(self.label[y0:y1, x0:x1], np.uint8(LABEL_IDS[name]),
                  where=sub)
        self.objects.append(
            dict(label=name, polygon=[[int(x), int(y)] for x, y in polygon]))
        return bbox


@dataclass
class _Geometry:
    """Flat-ground perspective of one scene (pixel units)."""

    h: int
    w: int
    yh: float        # horizon row
    xv: float        # vanishing column
    road_l: float    # road edge columns at the bottom row
    road_r: float
    base_l: float    # row where the facade base line meets the image border
    base_r: float
    zoom: float      # object scale multiplier

    def depth(self, y: float) -> float:
        """Pixels below the horizon: object size is proportional to it."""
        return max(y - self.yh, 1e-3)

    def road_edge(self, y: float, side: int) -> float:
        x_bottom = self.road_l if side < 0 else self.road_r
        return self.xv + (x_bottom - self.xv) * (y - self.yh) / (
            self.h - self.yh)

    def base_x(self, y: float, side: int) -> float:
        """Column of the facade base line (sidewalk outer edge) at row y."""
        base = self.base_l if side < 0 else self.base_r
        t = min((y - self.yh) / (base - self.yh), 1.0)
        return self.xv - t * self.xv if side < 0 else \
            self.xv + t * (self.w - self.xv)

    def base_y(self, x: float, side: int) -> float:
        """Row of the facade base line at column x."""
        base = self.base_l if side < 0 else self.base_r
        t = (self.xv - x) / self.xv if side < 0 else \
            (x - self.xv) / (self.w - self.xv)
        return self.yh + t * (base - self.yh)

    def side_t(self, x: float, side: int) -> float:
        """0 at the vanishing point, 1 at the image border."""
        t = (self.xv - x) / self.xv if side < 0 else \
            (x - self.xv) / (self.w - self.xv)
        return float(np.clip(t, 0, 1))


# ---------------------------------------------------------------- painters --
def _sky_painter(rng, g: _Geometry) -> Painter:
    overcast = rng.random() < 0.45
    if overcast:
        top = _gray(rng, 150, 215, 8) + np.array([0, 3, 10], np.float32)
        bottom = np.clip(top + rng.uniform(5, 30), 0, 255)
    else:
        top = _jitter(rng, (60, 120, 200), 15)
        bottom = _jitter(rng, (165, 195, 230), 12)
    clouds = rng.uniform(0.0, 1.0)

    def paint(ys, xs, rng):
        t = np.clip(ys / max(g.yh, 1), 0, 1)[..., None]
        col = top * (1 - t) + bottom * t
        cl = _smooth_noise(rng, *ys.shape, g.w * 0.12)
        cl = np.clip(cl - 0.3, 0, None)[..., None] * clouds
        col = col + cl * (np.array([235, 235, 240], np.float32) - col) * 0.6
        return col + 1.5 * rng.standard_normal(ys.shape + (1, ),
                                               dtype=np.float32)

    return paint


def _road_painter(rng, g: _Geometry) -> Painter:
    base = _gray(rng, 55, 120, 5)
    marking = _gray(rng, 185, 235, 4)
    n_lanes = int(rng.integers(2, 4))
    dash = rng.uniform(0.15, 0.3)
    mark_w = rng.uniform(0.012, 0.02)  # in road-width units

    def paint(ys, xs, rng):
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        out += (_smooth_noise(rng, h, w, g.w * 0.08) * 7)[..., None]
        out += 6 * rng.standard_normal((h, w, 1), dtype=np.float32)
        # patches of repaired asphalt and tyre tracks
        patches = _smooth_noise(rng, h, w, g.w * 0.15)
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


def _ground_grid(g: _Geometry, ys, xs, size: float):
    """Ground-plane coordinates (lateral, distance), scaled to tiles."""
    d = np.maximum(ys - g.yh, 1e-3)
    dist = g.h / d
    lat = (xs - g.xv) / d * 6
    return lat / size, dist / size


def _sidewalk_painter(rng, g: _Geometry, side: int) -> Painter:
    kind = rng.random()
    if kind < 0.55:
        base = _gray(rng, 110, 180, 6)
    elif kind < 0.8:
        base = _jitter(rng, (175, 160, 140), 12)
    else:
        base = _jitter(rng, (165, 110, 100), 12)
    tile = rng.uniform(0.6, 1.2)
    joint = rng.uniform(0.55, 0.8)
    curb = _gray(rng, 150, 210, 4)

    def paint(ys, xs, rng):
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        out += (_smooth_noise(rng, h, w, g.w * 0.05) * 8)[..., None]
        out += 5 * rng.standard_normal((h, w, 1), dtype=np.float32)
        a, b = _ground_grid(g, ys, xs, tile)
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


def _facade_painter(rng, g: _Geometry, side: int, top_y0: float) -> Painter:
    kind = rng.random()
    if kind < 0.35:
        base = _gray(rng, 95, 200, 8)
    elif kind < 0.6:
        base = _jitter(rng, (195, 175, 145), 15)
    elif kind < 0.8:
        base = _jitter(rng, (150, 85, 65), 15)
    else:
        base = _gray(rng, 200, 235, 5)
    glass = rng.random() < 0.5
    win = _jitter(rng, (55, 65, 80), 12) if not glass else \
        _jitter(rng, (120, 145, 170), 15)
    rows = rng.uniform(4, 9)      # floors over the facade height
    cols = rng.uniform(10, 22)    # window columns per unit of side_t
    wfrac = rng.uniform(0.35, 0.65)
    hfrac = rng.uniform(0.35, 0.6)
    shop = rng.random() < 0.5

    def paint(ys, xs, rng):
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        out += (_smooth_noise(rng, h, w, g.w * 0.1) * 9)[..., None]
        out += 4 * rng.standard_normal((h, w, 1), dtype=np.float32)
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


class _Span:
    """A vertical band in perspective (wall, fence): its top and bottom rows
    vary linearly between two columns."""

    def __init__(self, a: Tuple[float, float, float],
                 b: Tuple[float, float, float]):
        (self.xa, self.ta, self.ba), (self.xb, self.tb, self.bb) = a, b

    def rows(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Top and bottom row at columns x."""
        f = np.clip((x - self.xa) / (self.xb - self.xa + 1e-6), 0, 1)
        return (self.ta + f * (self.tb - self.ta),
                self.ba + f * (self.bb - self.ba))

    def coords(self, ys: np.ndarray, xs: np.ndarray, unit: float
               ) -> Tuple[np.ndarray, np.ndarray]:
        """(v, u): v 0 at the top to 1 at the bottom; u counts steps of
        ``unit`` times the local height along the band (perspective)."""
        top, bot = self.rows(xs[0])
        height = np.maximum(bot - top, 1.0)
        u = np.cumsum(1.0 / (unit * height))
        v = (ys - top[None]) / height[None]
        return v, np.broadcast_to(u[None], ys.shape)

    def polygon(self) -> Polygon:
        return _ints([(self.xa, self.ta), (self.xb, self.tb),
                      (self.xb, self.bb), (self.xa, self.ba)])


def _wall_painter(rng, span: _Span) -> Painter:
    kind = rng.random()
    if kind < 0.45:  # concrete blocks
        base = _gray(rng, 105, 185, 8)
    elif kind < 0.75:  # sandstone
        base = _jitter(rng, (180, 160, 130), 12)
    else:  # brick
        base = _jitter(rng, (145, 75, 55), 12)
    courses = int(rng.integers(3, 7))
    aspect = rng.uniform(1.5, 3.0)  # block width / course height
    shade = rng.uniform(-25, 25, (8, 16)).astype(np.float32)

    def paint(ys, xs, rng):
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


def _fence_painter(rng, g: _Geometry, span: _Span
                   ) -> Tuple[Painter, Callable]:
    metal = rng.random() < 0.6
    col = _gray(rng, 35, 100, 6) if metal else _jitter(rng, (125, 95, 65), 12)
    bars = rng.uniform(0.12, 0.25)  # bar spacing / local height
    bar = rng.uniform(0.45, 0.6)
    diagonal = rng.random() < 0.4

    def alpha(ys, xs):
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

    return _fill(col, 6), alpha


def _barrier(cv: '_Canvas', g: _Geometry, kind: str, span: _Span,
             rng: np.random.Generator) -> None:
    if kind == 'wall':
        cv.add('wall', span.polygon(), _wall_painter(rng, span))
    else:
        paint, alpha = _fence_painter(rng, g, span)
        cv.add('fence', span.polygon(), paint, alpha)


def _pole_painter(rng, x_c: float, half_w: float) -> Painter:
    col = _gray(rng, 80, 170, 5) if rng.random() < 0.75 else \
        _jitter(rng, (50, 70, 55), 8)

    def paint(ys, xs, rng):
        r = np.clip((xs - x_c) / max(half_w, 0.5), -1, 1)
        shade = 1.15 - 0.45 * (r + 0.3) ** 2  # cylinder highlight
        out = col * shade[..., None]
        return out + 4 * rng.standard_normal(ys.shape + (1,), dtype=np.float32)

    return paint


def _sign_painter(rng, cx, cy, r, kind: str) -> Painter:
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
    rim, face = _jitter(rng, rim, 10), _jitter(rng, face, 10)
    symbol = _gray(rng, 20, 60, 5)

    def paint(ys, xs, rng):
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


def _foliage_painter(rng, g: _Geometry, dark: float = 1.0) -> Painter:
    base = np.array([rng.uniform(40, 95), rng.uniform(75, 140),
                     rng.uniform(25, 70)], np.float32) * dark
    scale = rng.uniform(0.012, 0.025)

    def paint(ys, xs, rng):
        h, w = ys.shape
        n1 = _smooth_noise(rng, h, w, g.w * scale)
        n2 = _smooth_noise(rng, h, w, g.w * scale * 3)
        light = 1 + 0.28 * n1 + 0.15 * n2
        out = base * light[..., None]
        out[(n1 + 0.5 * n2) < -1.0] *= 0.45  # deep holes between leaves
        return out + 6 * rng.standard_normal((h, w, 1), dtype=np.float32)

    return paint


def _trunk_painter(rng) -> Painter:
    return _fill(_jitter(rng, (85, 65, 45), 10), 6)


def _terrain_painter(rng, g: _Geometry) -> Painter:
    if rng.random() < 0.75:
        base = np.array([rng.uniform(80, 140), rng.uniform(135, 190),
                         rng.uniform(45, 85)], np.float32)
    else:  # dry grass / soil
        base = _jitter(rng, (150, 135, 90), 12)

    def paint(ys, xs, rng):
        h, w = ys.shape
        out = np.empty((h, w, 3), np.float32)
        out[:] = base
        out += (_smooth_noise(rng, h, w, g.w * 0.06) * 10)[..., None]
        # fine vertical blades
        blades = cv2.resize(rng.standard_normal((max(h // 3, 1), w)).astype(
            np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        out += (blades * 9)[..., None]
        return out

    return paint


def _person_painter(rng, top: float, height: float) -> Painter:
    shirt = rng.uniform(20, 230, 3).astype(np.float32)
    if rng.random() < 0.4:
        shirt = _gray(rng, 25, 200, 6)
    pants = _jitter(rng, [(40, 45, 60), (45, 60, 110), (160, 145, 120),
                          (30, 30, 30)][int(rng.integers(4))], 10)
    skin = _jitter(rng, [(225, 185, 160), (190, 140, 105),
                         (120, 85, 60)][int(rng.integers(3))], 8)
    hair = _gray(rng, 20, 90, 10)

    def paint(ys, xs, rng):
        rel = (ys - top) / max(height, 1)
        out = np.empty(ys.shape + (3,), np.float32)
        out[:] = pants
        out[rel < 0.55] = shirt
        out[rel < 0.17] = skin
        out[rel < 0.07] = hair
        return out + 6 * rng.standard_normal(ys.shape + (1,), dtype=np.float32)

    return paint


CAR_COLOURS = [(235, 235, 235), (25, 25, 28), (150, 152, 155), (95, 98, 100),
               (160, 25, 30), (30, 55, 120), (25, 70, 45), (185, 170, 140)]


def _car_painter(rng, x0, x1, y_top, y_bot, rear: bool) -> Painter:
    body = _jitter(rng, CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))], 10)
    glass = _jitter(rng, (45, 55, 65), 8)
    tyre = _gray(rng, 15, 35, 3)
    light = _jitter(rng, (200, 40, 40), 10)

    def paint(ys, xs, rng):
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


# ------------------------------------------------------------------ scene ---
def render_scene(height: int, width: int, rng: np.random.Generator,
                 exclude: Sequence[str] = ()) -> Scene:
    """Render one street scene.

    Args:
        height: image height in pixels (>= 32).
        width: image width in pixels (>= 64).
        rng: the random generator that decides everything.
        exclude: classes not to draw, some of :data:`OPTIONAL_CLASSES`
            (their objects are left out; signs stay on their poles).

    Returns:
        The :class:`Scene` (image, label IDs and polygons).
    """
    if height < 32 or width < 64:
        raise ValueError(f'scene size {height}x{width} is too small '
                         '(need at least 32x64)')
    bad = set(exclude) - set(OPTIONAL_CLASSES)
    if bad:
        raise ValueError(f'cannot exclude {sorted(bad)}; optional classes '
                         f'are {list(OPTIONAL_CLASSES)}')
    h, w = height, width
    g = _Geometry(
        h=h, w=w, yh=h * rng.uniform(0.38, 0.5), xv=w * rng.uniform(0.4, 0.6),
        road_l=w * rng.uniform(0.05, 0.3), road_r=w * rng.uniform(0.7, 0.95),
        base_l=0, base_r=0, zoom=rng.uniform(0.85, 1.25))
    g.base_l = g.yh + (h - g.yh) * rng.uniform(0.3, 0.65)
    g.base_r = g.yh + (h - g.yh) * rng.uniform(0.3, 0.65)
    cv = _Canvas(h, w, rng, exclude)
    things: List[Tuple[float, Callable[[], None]]] = []

    # 1) sky over everything
    cv.add('sky', [(0, 0), (w - 1, 0), (w - 1, h - 1), (0, h - 1)],
           _sky_painter(rng, g))
    # 2) distant skyline around the vanishing point
    x = g.xv - w * rng.uniform(0.2, 0.35)
    x_end = g.xv + w * rng.uniform(0.2, 0.35)
    while x < x_end:
        bw = w * rng.uniform(0.04, 0.1)
        top = g.yh - h * rng.uniform(0.04, 0.16)
        name = 'building' if rng.random() < 0.7 else 'vegetation'
        poly = _ints([(x, top), (x + bw, top), (x + bw, g.yh + 2),
                      (x, g.yh + 2)])
        if name == 'building':
            cv.add(name, poly, _fill(_gray(rng, 110, 200, 10), 6))
        else:
            poly = _ints([(x - bw * 0.2, g.yh + 2)] + [
                (x + bw * f, top + (g.yh - top) * rng.uniform(0, 0.4))
                for f in np.linspace(0, 1, 6)] + [(x + bw * 1.2, g.yh + 2)])
            cv.add(name, poly, _foliage_painter(rng, g, 0.8))
        x += bw
    # 3) ground: road and the two sidewalks (+ optional grass verge)
    road = _ints([(g.road_l, h + 2), (g.xv - 1, g.yh), (g.xv + 1, g.yh),
                  (g.road_r, h + 2)])
    cv.add('road', road, _road_painter(rng, g))
    sides = {}
    for side in (-1, 1):
        park = rng.random() < 0.25
        sides[side] = park
        border = 0 if side < 0 else w - 1
        base = g.base_l if side < 0 else g.base_r
        edge = g.road_l if side < 0 else g.road_r
        walk = _ints([(g.xv, g.yh), (border, base), (border, h + 2),
                      (edge, h + 2)])
        cv.add('sidewalk', walk, _sidewalk_painter(rng, g, side))
        if park or rng.random() < 0.55:  # grass verge along the road
            f = rng.uniform(0.5, 0.85)
            inner = edge + (border - edge) * f
            y_in = g.yh + (h - g.yh) * rng.uniform(0.0, 0.2)
            verge = _ints([(g.xv, g.yh), (g.road_edge(y_in, side), y_in),
                           (edge + (border - edge) * 0.12, h + 2),
                           (inner, h + 2)])
            cv.add('terrain', verge, _terrain_painter(rng, g))
    # 4) facades (or park) on each side, walls, hedges, fences
    for side in (-1, 1):
        _side_stuff(cv, g, side, sides[side], rng)
    # 5) things, far to near
    for side in (-1, 1):
        _side_things(cv, g, side, things, rng)
    _cars(cv, g, things, rng)
    things.sort(key=lambda t: t[0])
    for _, draw in things:
        draw()
    # 6) ego vehicle bonnet (ignored in evaluation)
    if rng.random() < 0.4:
        top = h * rng.uniform(0.9, 0.96)
        bulge = h * rng.uniform(0.02, 0.05)
        pts = [(0, h - 1)] + [(x, top + bulge * (2 * x / w - 1) ** 2)
                              for x in np.linspace(0, w - 1, 9)] + \
            [(w - 1, h - 1)]
        col = _gray(rng, 20, 70, 8)

        def bonnet(ys, xs, rng):
            out = np.empty(ys.shape + (3,), np.float32)
            out[:] = col
            out += (30 * np.exp(-((xs / w - 0.5) * 4) ** 2))[..., None]
            return out

        cv.add('ego vehicle', _ints(pts), bonnet)

    image = _light(cv.img, g, rng)
    return Scene(image=image, label_ids=cv.label, objects=cv.objects)


def _side_stuff(cv: _Canvas, g: _Geometry, side: int, park: bool,
                rng: np.random.Generator) -> None:
    h, w = g.h, g.w
    border = 0 if side < 0 else w - 1
    if park:
        # trees and bushes behind a grass field
        base = g.base_l if side < 0 else g.base_r
        field = _ints([(g.xv, g.yh), (border, g.yh - (base - g.yh) * 0.05),
                       (border, base + 1), (g.xv, g.yh + 1)])
        cv.add('terrain', field, _terrain_painter(rng, g))
        top = g.yh - h * rng.uniform(0.15, 0.35)
        pts = [(g.xv, g.yh + 1)]
        for t in np.linspace(0.05, 1.0, 8):
            x = g.xv + (border - g.xv) * t
            pts.append((x, g.yh - (g.yh - top) * t * rng.uniform(0.7, 1.2)))
        pts += [(border, g.yh + (base - g.yh) * 0.55)]
        cv.add('vegetation', _ints(pts), _foliage_painter(rng, g))
    else:
        # building blocks from the image border to the vanishing point
        t = 1.0
        while t > 0.02:
            t_next = max(t - rng.uniform(0.2, 0.45), 0.0)
            x_a = g.xv + (border - g.xv) * t
            x_b = g.xv + (border - g.xv) * t_next
            top_y0 = -h * rng.uniform(-0.05, 0.35)  # top line at the border
            pa = (x_a, g.yh + t * (top_y0 - g.yh))
            pb = (x_b, g.yh + t_next * (top_y0 - g.yh))
            poly = _ints([pa, pb, (x_b, g.base_y(x_b, side) + 1),
                          (x_a, g.base_y(x_a, side) + 1)])
            cv.add('building', poly, _facade_painter(rng, g, side, top_y0))
            t = t_next
    # a railing or low wall between sidewalk and road, near the camera
    if rng.random() < 0.5:
        kind = 'fence' if rng.random() < 0.5 else 'wall'
        t_far = rng.uniform(0.1, 0.4)
        rel = rng.uniform(0.75, 1.0)  # metres over camera height
        ends = []
        for y in (g.yh + (h - g.yh) * t_far, h + 2):
            x = g.road_edge(y, side) + (border - g.road_edge(y, side)) * 0.08
            ends.append((x, y - g.depth(y) * rel, y))
        _barrier(cv, g, kind, _Span(*ends), rng)
    # low wall / hedge / fence segments along the facade base
    for _ in range(int(rng.integers(1, 3))):
        kind = rng.choice(['wall', 'fence', 'hedge'], p=[0.42, 0.42, 0.16])
        t0 = rng.uniform(0.5, 1.0)
        t1 = max(t0 - rng.uniform(0.3, 0.7), 0.05)
        x_a = g.xv + (border - g.xv) * t0
        x_b = g.xv + (border - g.xv) * t1
        height = h * rng.uniform(0.15, 0.35) * g.zoom
        ya, yb = g.base_y(x_a, side), g.base_y(x_b, side)
        # stand a little in front of the facade
        if kind in ('wall', 'fence'):
            _barrier(cv, g, kind, _Span((x_a, ya - height * t0, ya + 1),
                                        (x_b, yb - height * t1, yb + 1)), rng)
        else:
            bumps = [(x, y - height * tt * rng.uniform(0, 0.25))
                     for (x, y), tt in zip(
                         [(x_a, ya - height * t0), (x_b, yb - height * t1)],
                         [t0, t1])]
            mid = [((x_a + x_b) / 2, (ya + yb) / 2 - height * (t0 + t1) / 2
                    * rng.uniform(1.0, 1.25))]
            poly = _ints([bumps[0]] + mid + [bumps[1], (x_b, yb + 1),
                                              (x_a, ya + 1)])
            cv.add('vegetation', poly, _foliage_painter(rng, g, 0.8))


def _sidewalk_spot(g: _Geometry, side: int, rng: np.random.Generator,
                   frac: Tuple[float, float]) -> Tuple[float, float]:
    """A ground point on the sidewalk: (x, y) of an object's foot."""
    y = g.yh + (g.h - g.yh) * rng.uniform(0.1, 0.8)
    inner = g.road_edge(y, side)
    outer = g.base_x(y, side)
    f = rng.uniform(*frac)
    return inner + (outer - inner) * f, y


def _side_things(cv: _Canvas, g: _Geometry, side: int, things: list,
                 rng: np.random.Generator) -> None:
    h, w = g.h, g.w
    for _ in range(int(rng.integers(1, 4))):  # poles, some with signs
        x, y = _sidewalk_spot(g, side, rng, (0.05, 0.3))
        things.append((y, _pole(cv, g, x, y, rng)))
    for _ in range(int(rng.integers(0, 3))):  # trees
        x, y = _sidewalk_spot(g, side, rng, (0.1, 0.5))
        things.append((y, _tree(cv, g, x, y, rng)))
    n_people = int(rng.integers(0, 4))
    for _ in range(n_people):
        x, y = _sidewalk_spot(g, side, rng, (0.15, 0.95))
        things.append((y, _person(cv, g, x, y, rng)))


def _pole(cv, g, x, y, rng):
    d = g.depth(y) * g.zoom
    height = d * rng.uniform(3.0, 4.5)
    half = max(d * rng.uniform(0.07, 0.1), g.w * 0.015)
    x_c = x

    def draw():
        top = y - height
        cv.add('pole', _ints([(x_c - half, top), (x_c + half, top),
                              (x_c + half, y), (x_c - half, y)]),
               _pole_painter(rng, x_c, half))
        if rng.random() < 0.7:
            r = max(d * rng.uniform(0.28, 0.38), g.w * 0.035)
            cy = max(y - d * rng.uniform(1.8, 2.6), top + r * 1.1)
            kind = str(rng.choice(['prohibit', 'mandatory', 'warning',
                                   'priority', 'info']))
            if kind in ('prohibit', 'mandatory'):
                poly = _ellipse(x_c, cy, r, r, 16)
            elif kind == 'warning':
                poly = _ints([(x_c, cy - r), (x_c + r * 1.1, cy + r * 0.85),
                              (x_c - r * 1.1, cy + r * 0.85)])
            elif kind == 'priority':
                poly = _ints([(x_c, cy - r), (x_c + r, cy), (x_c, cy + r),
                              (x_c - r, cy)])
            else:
                poly = _ints([(x_c - r * 1.3, cy - r * 0.75),
                              (x_c + r * 1.3, cy - r * 0.75),
                              (x_c + r * 1.3, cy + r * 0.75),
                              (x_c - r * 1.3, cy + r * 0.75)])
            cv.add('traffic sign', poly, _sign_painter(rng, x_c, cy, r, kind))

    return draw


def _tree(cv, g, x, y, rng):
    d = g.depth(y) * g.zoom
    trunk_h = d * rng.uniform(1.2, 2.0)
    half = max(d * 0.06, 1.5)
    crown = d * rng.uniform(0.7, 1.2)

    def draw():
        top = y - trunk_h
        cv.add('vegetation', _ints([(x - half, top), (x + half, top),
                                    (x + half * 1.4, y), (x - half * 1.4, y)]),
               _trunk_painter(rng))
        cv.add('vegetation', _ellipse(x, top - crown * 0.6, crown,
                                      crown * 0.85, 14, rng, 0.25),
               _foliage_painter(rng, g))

    return draw


def _person(cv, g, x, y, rng):
    d = g.depth(y) * g.zoom
    height = d * rng.uniform(1.25, 1.55)
    wd = height * rng.uniform(0.24, 0.32)

    def draw():
        top = y - height
        hw, head = wd / 2, height * 0.085
        stride = rng.uniform(0, 0.25) * wd
        pts = [
            (x - head * 0.8, top + head * 0.3), (x - head * 0.6, top),
            (x + head * 0.6, top), (x + head * 0.8, top + head * 0.3),
            (x + head * 0.5, top + height * 0.16),  # neck
            (x + hw, top + height * 0.2), (x + hw * 1.05, top + height * 0.5),
            (x + hw * 0.7, top + height * 0.55),
            (x + hw * 0.5 + stride, y), (x + hw * 0.1, y),
            (x, top + height * 0.62),
            (x - hw * 0.1, y), (x - hw * 0.5 - stride, y),
            (x - hw * 0.7, top + height * 0.55),
            (x - hw * 1.05, top + height * 0.5), (x - hw, top + height * 0.2),
            (x - head * 0.5, top + height * 0.16),
        ]
        cv.add('person', _ints(pts), _person_painter(rng, top, height))

    return draw


def _cars(cv, g, things, rng):
    n = int(rng.integers(1, 5))
    for _ in range(n):
        y = g.yh + (g.h - g.yh) * rng.uniform(0.12, 0.75)
        left = g.road_edge(y, -1)
        right = g.road_edge(y, 1)
        parked = rng.random() < 0.45
        if parked:
            u = rng.choice([0.1, 0.9])
        else:
            u = rng.uniform(0.25, 0.75)
        x = left + (right - left) * u
        things.append((y, _car(cv, g, x, y, parked, rng)))


def _car(cv, g, x, y, side_view, rng):
    d = g.depth(y) * g.zoom
    height = d * rng.uniform(1.1, 1.35)
    width = d * (rng.uniform(2.3, 3.0) if side_view else rng.uniform(1.3, 1.6))

    def draw():
        x0, x1 = x - width / 2, x + width / 2
        top = y - height
        # shadow on the ground (image only)
        sh = rasterise(_ellipse(x, y, width * 0.6, height * 0.1, 12), g.h,
                       g.w)
        cv.img[sh] *= 0.55
        ri = 0.18 if side_view else 0.1
        pts = [(x0, y), (x0, top + height * 0.45),
               (x0 + width * ri, top + height * 0.38),
               (x0 + width * (ri + 0.08), top),
               (x1 - width * (ri + 0.08), top),
               (x1 - width * ri, top + height * 0.38),
               (x1, top + height * 0.45), (x1, y)]
        cv.add('car', _ints(pts),
               _car_painter(rng, x0, x1, top, y, rear=not side_view))

    return draw


def _light(img: np.ndarray, g: _Geometry,
           rng: np.random.Generator) -> np.ndarray:
    """Global lighting, cast shadows, noise; returns uint8 RGB."""
    h, w = img.shape[:2]
    out = img.copy()
    # cast shadows of the buildings across the ground
    for _ in range(int(rng.integers(0, 3))):
        side = rng.choice([-1, 1])
        x_far = g.xv + side * w * rng.uniform(0.0, 0.1)
        x_near = g.xv + side * w * rng.uniform(0.1, 0.6)
        outer = 0 if side < 0 else w - 1
        poly = _ints([(x_far, g.yh), (x_near, h), (outer, h),
                      (outer, g.yh + (h - g.yh) * 0.3)])
        m = rasterise(poly, h, w) & (np.arange(h)[:, None] > g.yh)
        out[m] *= rng.uniform(0.5, 0.75)
    gain = rng.uniform(0.65, 1.25)
    cast = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    out *= gain * cast
    yy = np.arange(h, dtype=np.float32)[:, None] / h - 0.5
    xx = np.arange(w, dtype=np.float32)[None, :] / w - 0.5
    vignette = 1 - rng.uniform(0.1, 0.35) * ((xx ** 2 + yy ** 2) * 2)
    out *= vignette[..., None]
    out += rng.uniform(2, 7) * rng.standard_normal(out.shape, dtype=np.float32)
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 0.8))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- dataset ---
def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``split``: independent of nproc."""
    return np.random.default_rng(
        np.random.SeedSequence([seed, SPLIT_INDEX[split], index]))


def scene_name(split: str, index: int) -> Tuple[str, str]:
    """``(city, '<city>_<seq:06d>_<frame:06d>')`` of image ``index``."""
    cities = CITIES[split]
    city = cities[index % len(cities)]
    return city, f'{city}_{index // len(cities):06d}_000019'


def _write_scene(task: tuple) -> str:
    out_dir, split, index, height, width, seed, with_labels, exclude = task
    scene = render_scene(height, width, scene_rng(seed, split, index),
                         exclude)
    city, stem = scene_name(split, index)
    img_dir = osp.join(out_dir, 'leftImg8bit', split, city)
    os.makedirs(img_dir, exist_ok=True)
    cv2.imwrite(osp.join(img_dir, f'{stem}_leftImg8bit.png'),
                cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
    if with_labels:
        gt_dir = osp.join(out_dir, 'gtFine', split, city)
        os.makedirs(gt_dir, exist_ok=True)
        with open(osp.join(gt_dir, f'{stem}_gtFine_polygons.json'), 'w') as f:
            json.dump(scene.to_json(), f)
        cv2.imwrite(osp.join(gt_dir, f'{stem}_gtFine_labelIds.png'),
                    scene.label_ids)
    return stem


def generate_cityscapes_like(out_dir: str,
                             num_train: int,
                             num_val: int,
                             num_test: int = 0,
                             height: int = 128,
                             width: int = 256,
                             seed: int = 0,
                             nproc: int = 1,
                             show_progress: bool = True,
                             exclude: Sequence[str] = ()) -> Dict[str, int]:
    """Write a Cityscapes-format dataset of generated street scenes.

    Layout (the real one): ``leftImg8bit/{split}/<city>/<city>_<seq>_<frame>
    _leftImg8bit.png`` (8-bit RGB) and, for train and val,
    ``gtFine/{split}/<city>/..._gtFine_polygons.json`` and
    ``..._gtFine_labelIds.png``. The test split has images only. Train IDs
    (``*_gtFine_labelTrainIds.png``) come from the JSON with
    ``tools/dataset_converters/cityscapes.py``, as for the real dataset.

    Args:
        out_dir: dataset root to create (e.g. ``data/cityscapes_demo``).
        num_train: number of training images.
        num_val: number of validation images.
        num_test: number of test images (no labels).
        height: image height.
        width: image width.
        seed: image ``i`` of a split depends only on (seed, split, i).
        nproc: worker processes.
        show_progress: print a progress bar.
        exclude: classes not to draw (see :func:`render_scene`).

    Returns:
        Number of images written per split.
    """
    tasks = []
    counts = dict(train=num_train, val=num_val, test=num_test)
    for split, num in counts.items():
        if num < 0:
            raise ValueError(f'number of {split} images must be >= 0, '
                             f'got {num}')
        tasks += [(out_dir, split, i, height, width, seed, split != 'test',
                   tuple(exclude)) for i in range(num)]
    if not tasks:
        return counts
    if show_progress:
        from mmengine.utils import track_parallel_progress, track_progress
        if nproc > 1:
            track_parallel_progress(_write_scene, tasks, nproc)
        else:
            track_progress(_write_scene, tasks)
    elif nproc > 1:
        from multiprocessing import Pool
        with Pool(nproc) as pool:
            pool.map(_write_scene, tasks)
    else:
        for task in tasks:
            _write_scene(task)
    return counts


def class_pixel_shares(label_maps, num_classes: int = 19,
                       ignore_index: int = 255) -> Dict[str, np.ndarray]:
    """Per-class pixel share over train-ID maps.

    Args:
        label_maps: iterable of (H, W) train-ID arrays.
        num_classes: number of train classes.
        ignore_index: the ignored value.

    Returns:
        ``share``: (num_classes,) fraction of all pixels per class,
        ``images``: (num_classes,) fraction of images containing the class,
        ``ignored``: fraction of ignored pixels (0-d array).
    """
    counts = np.zeros(num_classes + 1, np.int64)
    present = np.zeros(num_classes, np.int64)
    n = 0
    for lab in label_maps:
        lab = np.asarray(lab).ravel()
        c = np.bincount(np.where(lab == ignore_index, num_classes, lab),
                        minlength=num_classes + 1)
        counts += c[:num_classes + 1]
        present += c[:num_classes] > 0
        n += 1
    total = max(counts.sum(), 1)
    return dict(share=counts[:num_classes] / total,
                images=present / max(n, 1),
                ignored=np.array(counts[num_classes] / total))
