"""Polygons and the flat-ground perspective of a street scene.

Coordinates are pixels: ``x`` the column, ``y`` the row, (0, 0) the top
left corner. A polygon is a list of int ``(x, y)`` vertices; it may reach
outside the image.
"""
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

#: A polygon: int ``(x, y)`` vertices in drawing order.
Polygon = List[Tuple[int, int]]
#: A point of a polygon before rounding.
Point = Tuple[float, float]


def rasterise(polygon: Sequence[Sequence[int]], height: int,
              width: int) -> np.ndarray:
    """Pixels covered by ``polygon`` as cityscapesscripts draws it.

    Pillow's ``ImageDraw.polygon``, the call cityscapesscripts'
    ``json2labelImg`` makes, so a polygon JSON file converted with
    cityscapesscripts gives the same pixels.

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


def ints(points: Iterable[Point]) -> Polygon:
    """Rounds float ``(x, y)`` points to a polygon.

    Args:
        points: (x, y) pairs.

    Returns:
        The points rounded to the nearest int.
    """
    return [(int(round(x)), int(round(y))) for x, y in points]


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 16,
            rng: Optional[np.random.Generator] = None,
            wobble: float = 0.0) -> Polygon:
    """An ellipse as an ``n``-gon, optionally with a wobbly outline.

    Args:
        cx: centre column.
        cy: centre row.
        rx: horizontal radius.
        ry: vertical radius.
        n: number of vertices.
        rng: draws the wobble (``n`` uniform numbers) when given with
            ``wobble > 0``.
        wobble: each radius is scaled by a factor in
            [1 - wobble, 1 + wobble].

    Returns:
        The ``n`` vertices, counter-clockwise from the rightmost one (in
        image coordinates).
    """
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    if rng is not None and wobble > 0:
        r = 1 + rng.uniform(-wobble, wobble, n)
    return ints(zip(cx + rx * r * np.cos(ang), cy + ry * r * np.sin(ang)))


@dataclass
class StreetGeometry:
    """Flat-ground perspective of one scene (pixel units).

    The road runs from the bottom of the image to the vanishing point
    ``(xv, yh)`` on the horizon; on each side a sidewalk reaches from the
    road edge to the facade base line, which runs from the vanishing point
    to the image border. ``side`` is -1 for the left and 1 for the right.

    Attributes:
        h: image height.
        w: image width.
        yh: horizon row.
        xv: vanishing column.
        road_l: left road edge column at the bottom row.
        road_r: right road edge column at the bottom row.
        base_l: row where the left facade base line meets the image border.
        base_r: the same on the right.
        zoom: object scale multiplier.
    """

    h: int
    w: int
    yh: float
    xv: float
    road_l: float
    road_r: float
    base_l: float
    base_r: float
    zoom: float

    @classmethod
    def sample(cls, height: int, width: int,
               rng: np.random.Generator) -> 'StreetGeometry':
        """Draws the perspective of a scene (seven uniform numbers).

        Args:
            height: image height.
            width: image width.
            rng: the scene's random generator.

        Returns:
            The geometry.
        """
        h, w = height, width
        g = cls(
            h=h, w=w, yh=h * rng.uniform(0.38, 0.5),
            xv=w * rng.uniform(0.4, 0.6),
            road_l=w * rng.uniform(0.05, 0.3),
            road_r=w * rng.uniform(0.7, 0.95),
            base_l=0, base_r=0, zoom=rng.uniform(0.85, 1.25))
        g.base_l = g.yh + (h - g.yh) * rng.uniform(0.3, 0.65)
        g.base_r = g.yh + (h - g.yh) * rng.uniform(0.3, 0.65)
        return g

    def depth(self, y: float) -> float:
        """Pixels below the horizon: object size is proportional to it."""
        return max(y - self.yh, 1e-3)

    def road_edge(self, y: float, side: int) -> float:
        """Column of the road edge on ``side`` at row ``y``."""
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

    def ground_grid(self, ys: np.ndarray, xs: np.ndarray,
                    size: float) -> Tuple[np.ndarray, np.ndarray]:
        """Ground-plane coordinates of pixels, in tiles of ``size``.

        Args:
            ys: (h, w) float rows of the pixels (below the horizon).
            xs: (h, w) float columns of the pixels.
            size: tile size in ground units.

        Returns:
            (lateral, distance), each (h, w): tile coordinates across and
            along the road.
        """
        d = np.maximum(ys - self.yh, 1e-3)
        dist = self.h / d
        lat = (xs - self.xv) / d * 6
        return lat / size, dist / size


class Span:
    """A vertical band in perspective (wall, fence): its top and bottom rows
    vary linearly between two columns.

    Args:
        a: (column, top row, bottom row) at one end.
        b: the same at the other end.
    """

    def __init__(self, a: Tuple[float, float, float],
                 b: Tuple[float, float, float]) -> None:
        (self.xa, self.ta, self.ba), (self.xb, self.tb, self.bb) = a, b

    def rows(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Top and bottom row at columns ``x`` (any shape, same out)."""
        f = np.clip((x - self.xa) / (self.xb - self.xa + 1e-6), 0, 1)
        return (self.ta + f * (self.tb - self.ta),
                self.ba + f * (self.bb - self.ba))

    def coords(self, ys: np.ndarray, xs: np.ndarray,
               unit: float) -> Tuple[np.ndarray, np.ndarray]:
        """Band coordinates of pixels.

        Args:
            ys: (h, w) float rows (constant along each row).
            xs: (h, w) float columns (constant along each column).
            unit: step of ``u`` in units of the local band height.

        Returns:
            (v, u), each (h, w): ``v`` 0 at the top to 1 at the bottom;
            ``u`` counts steps of ``unit`` times the local height along the
            band (perspective), from the box's first column.
        """
        top, bot = self.rows(xs[0])
        height = np.maximum(bot - top, 1.0)
        u = np.cumsum(1.0 / (unit * height))
        v = (ys - top[None]) / height[None]
        return v, np.broadcast_to(u[None], ys.shape)

    def polygon(self) -> Polygon:
        """The band's outline (four vertices)."""
        return ints([(self.xa, self.ta), (self.xb, self.tb),
                     (self.xb, self.bb), (self.xa, self.ba)])
