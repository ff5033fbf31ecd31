"""One street scene: labelled polygons painted back to front, then lit.

The composition, far to near: sky; a distant skyline around the vanishing
point; the road and two sidewalks (maybe a grass verge); on each side
facades or a park, with walls, fences and hedges; then the things (poles
with signs, trees, people, cars), sorted by the row of their foot so nearer
ones cover farther ones; maybe the ego vehicle's bonnet. The lit and noised
image and the label map come from the same polygons.

Everything is decided by one random generator, in a fixed order: the same
generator state gives the same scene, pixel for pixel.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .geometry import (
    Point,
    Polygon,
    Span,
    StreetGeometry,
    ellipse,
    ints,
    rasterise,
)
from .labels import ID_TO_TRAIN_ID, LABEL_IDS, OPTIONAL_CLASSES
from .painters import (
    Alpha,
    Painter,
    bonnet_painter,
    car_painter,
    facade_painter,
    fence_painter,
    fill,
    foliage_painter,
    gray,
    person_painter,
    pole_painter,
    road_painter,
    sidewalk_painter,
    sign_painter,
    sky_painter,
    terrain_painter,
    trunk_painter,
    wall_painter,
)

#: One polygon of a scene, as in ``*_gtFine_polygons.json``:
#: ``{'label': name, 'polygon': [[x, y], ...]}`` with int coordinates.
SceneObject = Dict[str, object]
#: Draws a thing onto the canvas when called (things are drawn sorted by
#: the row of their foot).
Draw = Callable[[], None]
#: (x0, y0, x1, y1) pixel box, x1 and y1 exclusive.
Box = Tuple[int, int, int, int]


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
    objects: List[SceneObject] = field(default_factory=list)

    @property
    def train_ids(self) -> np.ndarray:
        """(H, W) uint8 train IDs (as ``*_labelTrainIds.png``), 255 ignored."""
        return ID_TO_TRAIN_ID[self.label_ids]

    def to_json(self) -> Dict[str, object]:
        """The ``*_gtFine_polygons.json`` content of the scene."""
        h, w = self.label_ids.shape
        return dict(imgHeight=h, imgWidth=w, objects=self.objects)


class Canvas:
    """Paints labelled polygons back to front.

    Args:
        height: image height.
        width: image width.
        rng: the scene's random generator, passed to every painter.
        exclude: classes whose objects are not drawn.

    Attributes:
        img: (H, W, 3) float32 RGB painted so far.
        label: (H, W) uint8 label IDs drawn so far (0 unlabeled).
        objects: the polygons drawn so far (:data:`SceneObject`).
    """

    def __init__(self, height: int, width: int, rng: np.random.Generator,
                 exclude: Sequence[str] = ()) -> None:
        self.h, self.w, self.rng = height, width, rng
        self.exclude = set(exclude)
        self.img = np.zeros((height, width, 3), np.float32)
        self.label = np.zeros((height, width), np.uint8)
        self.objects: List[SceneObject] = []

    def add(self, name: str, polygon: Polygon, painter: Painter,
            alpha: Optional[Alpha] = None) -> Optional[Box]:
        """Draws one object.

        The label covers the whole polygon, as in Cityscapes; the painted
        texture is blended by ``alpha`` (when given) over what is already
        there, darkened (fences let the background show through).

        Args:
            name: Cityscapes class name (a key of :data:`LABEL_IDS`).
            polygon: the object's outline.
            painter: paints its bounding box.
            alpha: opacity of the painted texture.

        Returns:
            The polygon's bounding box, or None if it covers no pixel or
            its class is excluded (nothing drawn, the painter not called).
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

    def shade(self, mask: np.ndarray, factor: float) -> None:
        """Darkens the image (not the labels) where ``mask``, (H, W) bool."""
        self.img[mask] *= factor


# ----------------------------------------------------------------------------
# the scene
# ----------------------------------------------------------------------------
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
    g = StreetGeometry.sample(h, w, rng)
    cv = Canvas(h, w, rng, exclude)
    things: List[Tuple[float, Draw]] = []

    # 1) sky over everything
    cv.add('sky', [(0, 0), (w - 1, 0), (w - 1, h - 1), (0, h - 1)],
           sky_painter(rng, g))
    # 2) distant skyline around the vanishing point
    _skyline(cv, g, rng)
    # 3) ground: road and the two sidewalks (+ optional grass verge)
    parks = _ground(cv, g, rng)
    # 4) facades (or park) on each side, walls, hedges, fences
    for side in (-1, 1):
        _side_backdrop(cv, g, side, parks[side], rng)
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
        cv.add('ego vehicle', ints(pts), bonnet_painter(rng, w))

    image = light(cv.img, g, rng)
    return Scene(image=image, label_ids=cv.label, objects=cv.objects)


def _skyline(cv: Canvas, g: StreetGeometry,
             rng: np.random.Generator) -> None:
    """Distant buildings and trees along the horizon, left to right."""
    h, w = g.h, g.w
    x = g.xv - w * rng.uniform(0.2, 0.35)
    x_end = g.xv + w * rng.uniform(0.2, 0.35)
    while x < x_end:
        bw = w * rng.uniform(0.04, 0.1)
        top = g.yh - h * rng.uniform(0.04, 0.16)
        name = 'building' if rng.random() < 0.7 else 'vegetation'
        poly = ints([(x, top), (x + bw, top), (x + bw, g.yh + 2),
                     (x, g.yh + 2)])
        if name == 'building':
            cv.add(name, poly, fill(gray(rng, 110, 200, 10), 6))
        else:
            poly = ints([(x - bw * 0.2, g.yh + 2)] + [
                (x + bw * f, top + (g.yh - top) * rng.uniform(0, 0.4))
                for f in np.linspace(0, 1, 6)] + [(x + bw * 1.2, g.yh + 2)])
            cv.add(name, poly, foliage_painter(rng, g, 0.8))
        x += bw


def _ground(cv: Canvas, g: StreetGeometry,
            rng: np.random.Generator) -> Dict[int, bool]:
    """The road, the sidewalks and maybe grass verges.

    Returns:
        side (-1, 1) -> whether that side is a park (no buildings).
    """
    h = g.h
    road = ints([(g.road_l, h + 2), (g.xv - 1, g.yh), (g.xv + 1, g.yh),
                 (g.road_r, h + 2)])
    cv.add('road', road, road_painter(rng, g))
    parks = {}
    for side in (-1, 1):
        park = rng.random() < 0.25
        parks[side] = park
        border = 0 if side < 0 else g.w - 1
        base = g.base_l if side < 0 else g.base_r
        edge = g.road_l if side < 0 else g.road_r
        walk = ints([(g.xv, g.yh), (border, base), (border, h + 2),
                     (edge, h + 2)])
        cv.add('sidewalk', walk, sidewalk_painter(rng, g, side))
        if park or rng.random() < 0.55:  # grass verge along the road
            f = rng.uniform(0.5, 0.85)
            inner = edge + (border - edge) * f
            y_in = g.yh + (h - g.yh) * rng.uniform(0.0, 0.2)
            verge = ints([(g.xv, g.yh), (g.road_edge(y_in, side), y_in),
                          (edge + (border - edge) * 0.12, h + 2),
                          (inner, h + 2)])
            cv.add('terrain', verge, terrain_painter(rng, g))
    return parks


def _side_backdrop(cv: Canvas, g: StreetGeometry, side: int, park: bool,
                   rng: np.random.Generator) -> None:
    """Facades (or a park) on one side; a railing or low wall by the road;
    walls, fences and hedges along the facade base."""
    h, w = g.h, g.w
    border = 0 if side < 0 else w - 1
    if park:
        # trees and bushes behind a grass field
        base = g.base_l if side < 0 else g.base_r
        field = ints([(g.xv, g.yh), (border, g.yh - (base - g.yh) * 0.05),
                      (border, base + 1), (g.xv, g.yh + 1)])
        cv.add('terrain', field, terrain_painter(rng, g))
        top = g.yh - h * rng.uniform(0.15, 0.35)
        pts: List[Point] = [(g.xv, g.yh + 1)]
        for t in np.linspace(0.05, 1.0, 8):
            x = g.xv + (border - g.xv) * t
            pts.append((x, g.yh - (g.yh - top) * t * rng.uniform(0.7, 1.2)))
        pts += [(border, g.yh + (base - g.yh) * 0.55)]
        cv.add('vegetation', ints(pts), foliage_painter(rng, g))
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
            poly = ints([pa, pb, (x_b, g.base_y(x_b, side) + 1),
                         (x_a, g.base_y(x_a, side) + 1)])
            cv.add('building', poly, facade_painter(rng, g, side, top_y0))
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
        _barrier(cv, kind, Span(*ends), rng)
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
            _barrier(cv, kind, Span((x_a, ya - height * t0, ya + 1),
                                    (x_b, yb - height * t1, yb + 1)), rng)
        else:
            bumps = [(x, y - height * tt * rng.uniform(0, 0.25))
                     for (x, y), tt in zip(
                         [(x_a, ya - height * t0), (x_b, yb - height * t1)],
                         [t0, t1])]
            mid = [((x_a + x_b) / 2, (ya + yb) / 2 - height * (t0 + t1) / 2
                    * rng.uniform(1.0, 1.25))]
            poly = ints([bumps[0]] + mid + [bumps[1], (x_b, yb + 1),
                                             (x_a, ya + 1)])
            cv.add('vegetation', poly, foliage_painter(rng, g, 0.8))


def _barrier(cv: Canvas, kind: str, span: Span,
             rng: np.random.Generator) -> None:
    """A wall or a fence along ``span``."""
    if kind == 'wall':
        cv.add('wall', span.polygon(), wall_painter(rng, span))
    else:
        paint, alpha = fence_painter(rng, span)
        cv.add('fence', span.polygon(), paint, alpha)


# ----------------------------------------------------------------------------
# things: placed first (their size decided), drawn later, far to near
# ----------------------------------------------------------------------------
def _sidewalk_spot(g: StreetGeometry, side: int, rng: np.random.Generator,
                   frac: Tuple[float, float]) -> Point:
    """A ground point on the sidewalk: (x, y) of an object's foot.

    ``frac`` bounds the position across the sidewalk, 0 at the road edge
    and 1 at the facade base line.
    """
    y = g.yh + (g.h - g.yh) * rng.uniform(0.1, 0.8)
    inner = g.road_edge(y, side)
    outer = g.base_x(y, side)
    f = rng.uniform(*frac)
    return inner + (outer - inner) * f, y


def _side_things(cv: Canvas, g: StreetGeometry, side: int,
                 things: List[Tuple[float, Draw]],
                 rng: np.random.Generator) -> None:
    """Places poles (some with signs), trees and people on one sidewalk;
    appends ``(foot row, draw)`` of each to ``things``."""
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


def _pole(cv: Canvas, g: StreetGeometry, x: float, y: float,
          rng: np.random.Generator) -> Draw:
    """A pole standing at ``(x, y)``, with a traffic sign 70% of the time."""
    d = g.depth(y) * g.zoom
    height = d * rng.uniform(3.0, 4.5)
    half = max(d * rng.uniform(0.07, 0.1), g.w * 0.015)
    x_c = x

    def draw() -> None:
        top = y - height
        cv.add('pole', ints([(x_c - half, top), (x_c + half, top),
                             (x_c + half, y), (x_c - half, y)]),
               pole_painter(rng, x_c, half))
        if rng.random() < 0.7:
            r = max(d * rng.uniform(0.28, 0.38), g.w * 0.035)
            cy = max(y - d * rng.uniform(1.8, 2.6), top + r * 1.1)
            kind = str(rng.choice(['prohibit', 'mandatory', 'warning',
                                   'priority', 'info']))
            if kind in ('prohibit', 'mandatory'):
                poly = ellipse(x_c, cy, r, r, 16)
            elif kind == 'warning':
                poly = ints([(x_c, cy - r), (x_c + r * 1.1, cy + r * 0.85),
                             (x_c - r * 1.1, cy + r * 0.85)])
            elif kind == 'priority':
                poly = ints([(x_c, cy - r), (x_c + r, cy), (x_c, cy + r),
                             (x_c - r, cy)])
            else:
                poly = ints([(x_c - r * 1.3, cy - r * 0.75),
                             (x_c + r * 1.3, cy - r * 0.75),
                             (x_c + r * 1.3, cy + r * 0.75),
                             (x_c - r * 1.3, cy + r * 0.75)])
            cv.add('traffic sign', poly, sign_painter(rng, x_c, cy, r, kind))

    return draw


def _tree(cv: Canvas, g: StreetGeometry, x: float, y: float,
          rng: np.random.Generator) -> Draw:
    """A tree standing at ``(x, y)``: trunk and crown (both vegetation)."""
    d = g.depth(y) * g.zoom
    trunk_h = d * rng.uniform(1.2, 2.0)
    half = max(d * 0.06, 1.5)
    crown = d * rng.uniform(0.7, 1.2)

    def draw() -> None:
        top = y - trunk_h
        cv.add('vegetation', ints([(x - half, top), (x + half, top),
                                   (x + half * 1.4, y), (x - half * 1.4, y)]),
               trunk_painter(rng))
        cv.add('vegetation', ellipse(x, top - crown * 0.6, crown,
                                     crown * 0.85, 14, rng, 0.25),
               foliage_painter(rng, g))

    return draw


def _person(cv: Canvas, g: StreetGeometry, x: float, y: float,
            rng: np.random.Generator) -> Draw:
    """A walking person with the feet at row ``y`` around column ``x``."""
    d = g.depth(y) * g.zoom
    height = d * rng.uniform(1.25, 1.55)
    wd = height * rng.uniform(0.24, 0.32)

    def draw() -> None:
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
        cv.add('person', ints(pts), person_painter(rng, top, height))

    return draw


def _cars(cv: Canvas, g: StreetGeometry, things: List[Tuple[float, Draw]],
          rng: np.random.Generator) -> None:
    """Places one to four cars on the road, parked at its edges (seen from
    the side) or driving (seen from behind); appends them to ``things``."""
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


def _car(cv: Canvas, g: StreetGeometry, x: float, y: float, side_view: bool,
         rng: np.random.Generator) -> Draw:
    """A car on the ground at ``(x, y)`` (bottom centre), with its shadow."""
    d = g.depth(y) * g.zoom
    height = d * rng.uniform(1.1, 1.35)
    width = d * (rng.uniform(2.3, 3.0) if side_view else rng.uniform(1.3, 1.6))

    def draw() -> None:
        x0, x1 = x - width / 2, x + width / 2
        top = y - height
        # shadow on the ground (image only)
        cv.shade(rasterise(ellipse(x, y, width * 0.6, height * 0.1, 12), g.h,
                           g.w), 0.55)
        ri = 0.18 if side_view else 0.1
        pts = [(x0, y), (x0, top + height * 0.45),
               (x0 + width * ri, top + height * 0.38),
               (x0 + width * (ri + 0.08), top),
               (x1 - width * (ri + 0.08), top),
               (x1 - width * ri, top + height * 0.38),
               (x1, top + height * 0.45), (x1, y)]
        cv.add('car', ints(pts),
               car_painter(rng, x0, x1, top, y, rear=not side_view))

    return draw


# ----------------------------------------------------------------------------
# lighting
# ----------------------------------------------------------------------------
def light(img: np.ndarray, g: StreetGeometry,
          rng: np.random.Generator) -> np.ndarray:
    """Global lighting, cast shadows, vignetting, noise and a slight blur.

    Args:
        img: (H, W, 3) float32 RGB as painted (not modified).
        g: the scene's geometry.
        rng: the scene's random generator.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    h, w = img.shape[:2]
    out = img.copy()
    # cast shadows of the buildings across the ground
    for _ in range(int(rng.integers(0, 3))):
        side = rng.choice([-1, 1])
        x_far = g.xv + side * w * rng.uniform(0.0, 0.1)
        x_near = g.xv + side * w * rng.uniform(0.1, 0.6)
        outer = 0 if side < 0 else w - 1
        poly = ints([(x_far, g.yh), (x_near, h), (outer, h),
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
