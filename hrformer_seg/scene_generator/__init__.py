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

Modules, by concern:

- :mod:`.labels`: the Cityscapes label and train IDs drawn, pixel shares;
- :mod:`.geometry`: polygons, rasterisation, the street's perspective;
- :mod:`.painters`: the class-specific textures;
- :mod:`.scene`: the composition of one scene (:func:`render_scene`);
- :mod:`.writer`: seeds, file names and the dataset on disk
  (:func:`generate_cityscapes_like`).

``tools/dataset_converters/generate_cityscapes_like.py`` is the command
line.
"""
from .geometry import rasterise
from .labels import (
    DRAWN_CLASSES,
    ID_TO_TRAIN_ID,
    LABEL_IDS,
    OPTIONAL_CLASSES,
    TRAIN_IDS,
    class_pixel_shares,
)
from .scene import Scene, render_scene
from .writer import (
    CITIES,
    generate_cityscapes_like,
    scene_name,
    scene_rng,
    write_scene,
)

__all__ = [
    'CITIES', 'DRAWN_CLASSES', 'ID_TO_TRAIN_ID', 'LABEL_IDS',
    'OPTIONAL_CLASSES', 'TRAIN_IDS', 'Scene', 'class_pixel_shares',
    'generate_cityscapes_like', 'rasterise', 'render_scene', 'scene_name',
    'scene_rng', 'write_scene'
]
