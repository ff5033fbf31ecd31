"""hrformer_seg.scene_generator: the generated Cityscapes-format street
scenes."""
import filecmp
import json

import cv2
import numpy as np
import pytest
from cityscapesscripts.helpers.labels import name2label
from PIL import Image

from hrformer_seg.scene_generator import (
    CITIES,
    LABEL_IDS,
    TRAIN_IDS,
    class_pixel_shares,
    generate_cityscapes_like,
    rasterise,
    render_scene,
    scene_name,
    scene_rng,
)


def test_label_tables_match_cityscapesscripts():
    for name, label_id in LABEL_IDS.items():
        assert name2label[name].id == label_id
        assert name2label[name].trainId == TRAIN_IDS[name]


def test_same_seed_same_scene_other_seed_other_scene():
    a = render_scene(64, 128, scene_rng(5, 'train', 2))
    b = render_scene(64, 128, scene_rng(5, 'train', 2))
    c = render_scene(64, 128, scene_rng(6, 'train', 2))
    d = render_scene(64, 128, scene_rng(5, 'val', 2))
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.label_ids, b.label_ids)
    assert a.objects == b.objects
    assert not np.array_equal(a.image, c.image)
    assert not np.array_equal(a.image, d.image)


def test_label_map_is_the_polygons_drawn_in_order():
    scene = render_scene(64, 128, scene_rng(0, 'train', 0))
    # repaint the polygons in drawing order, independently of the renderer
    expected = np.zeros((64, 128), np.uint8)
    for obj in scene.objects:
        expected[rasterise(obj['polygon'], 64, 128)] = \
            name2label[obj['label']].id
    assert np.array_equal(scene.label_ids, expected)
    assert scene.image.shape == (64, 128, 3)
    assert scene.image.dtype == np.uint8


def test_scenes_are_street_like():
    scenes = [render_scene(128, 256, scene_rng(0, 'train', i))
              for i in range(12)]
    for s in scenes:
        present = set(np.unique(s.train_ids).tolist()) - {255}
        assert len(present) >= 6, present
        # sky above road: mean row of sky pixels above that of road pixels
        rows = np.arange(128)[:, None].repeat(256, 1)
        sky, road = s.train_ids == 10, s.train_ids == 0
        if sky.any() and road.any():
            assert rows[sky].mean() < rows[road].mean()
    shares = class_pixel_shares([s.train_ids for s in scenes])
    drawn = [TRAIN_IDS[n] for n in TRAIN_IDS if TRAIN_IDS[n] != 255]
    assert all(shares['share'][t] > 0 for t in drawn)
    assert shares['share'].sum() + shares['ignored'] == pytest.approx(1.0)
    # classes the generator never draws stay absent
    never = set(range(19)) - set(drawn)
    assert all(shares['share'][t] == 0 for t in never)


def test_colour_alone_does_not_decide_the_class():
    """A per-pixel colour classifier (the Bayes rule on quantised RGB,
    fitted on the evaluation images themselves) stays far from perfect."""
    scenes = [render_scene(64, 128, scene_rng(1, 'train', i))
              for i in range(20)]
    img = np.concatenate([s.image.reshape(-1, 3) for s in scenes])
    lab = np.concatenate([s.train_ids.ravel() for s in scenes])
    keep = lab != 255
    img, lab = img[keep] // 16, lab[keep]
    code = (img[:, 0].astype(np.int64) * 16 + img[:, 1]) * 16 + img[:, 2]
    joint = np.zeros((16 ** 3, 19), np.int64)
    np.add.at(joint, (code, lab), 1)
    pred = joint.argmax(1)[code]
    ious = []
    for c in np.unique(lab):
        inter = np.sum((pred == c) & (lab == c))
        ious.append(inter / np.sum((pred == c) | (lab == c)))
    assert np.mean(ious) < 0.6


def test_dataset_files_layout_and_nproc_independence(tmp_path):
    one, two = tmp_path / 'one', tmp_path / 'two'
    generate_cityscapes_like(str(one), 3, 2, 1, height=64, width=128,
                             seed=9, nproc=1, show_progress=False)
    generate_cityscapes_like(str(two), 3, 2, 1, height=64, width=128,
                             seed=9, nproc=2, show_progress=False)
    files = sorted(p.relative_to(one) for p in one.rglob('*') if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob('*')
                           if p.is_file())
    for f in files:
        assert filecmp.cmp(one / f, two / f, shallow=False), f
    # real layout and names, two or more cities per split
    for split, n in (('train', 3), ('val', 2), ('test', 1)):
        imgs = sorted(
            (one / 'leftImg8bit' / split).glob('*/*_leftImg8bit.png'))
        assert len(imgs) == n
        assert {p.parent.name for p in imgs} <= set(CITIES[split])
        for p in imgs:
            city, seq, frame, kind = p.name[:-4].split('_')
            assert city == p.parent.name and kind == 'leftImg8bit'
            assert len(seq) == 6 and len(frame) == 6
            with Image.open(p) as im:
                assert im.mode == 'RGB' and im.size == (128, 64)
    assert len({p.parent.name for p in
                (one / 'leftImg8bit' / 'train').glob('*/*.png')}) >= 2
    assert not (one / 'gtFine' / 'test').exists()

    _, stem = scene_name('val', 1)
    city = stem.split('_')[0]
    ann = json.loads((one / 'gtFine' / 'val' / city /
                      f'{stem}_gtFine_polygons.json').read_text())
    assert ann['imgHeight'] == 64 and ann['imgWidth'] == 128
    assert all(o['label'] in name2label for o in ann['objects'])
    assert all(isinstance(v, int) for o in ann['objects']
               for p in o['polygon'] for v in p)
    scene = render_scene(64, 128, scene_rng(9, 'val', 1))
    ids = cv2.imread(str(one / 'gtFine' / 'val' / city /
                         f'{stem}_gtFine_labelIds.png'), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(ids, scene.label_ids)
    rgb = cv2.imread(str(one / 'leftImg8bit' / 'val' / city /
                         f'{stem}_leftImg8bit.png'))[..., ::-1]
    assert np.array_equal(rgb, scene.image)
    assert ann['objects'] == scene.objects


def test_bad_arguments():
    with pytest.raises(ValueError, match='too small'):
        render_scene(16, 32, scene_rng(0, 'train', 0))
    with pytest.raises(ValueError, match='train'):
        generate_cityscapes_like('/nonexistent', -1, 0, show_progress=False)


def test_excluded_classes_are_never_drawn():
    for i in range(6):
        scene = render_scene(64, 128, scene_rng(2, 'train', i),
                             exclude=('wall', 'fence', 'person'))
        present = set(np.unique(scene.train_ids).tolist())
        assert not present & {TRAIN_IDS['wall'], TRAIN_IDS['fence'],
                              TRAIN_IDS['person']}
        assert {o['label'] for o in scene.objects}.isdisjoint(
            {'wall', 'fence', 'person'})
    with pytest.raises(ValueError, match='road'):
        render_scene(64, 128, scene_rng(2, 'train', 0), exclude=('road', ))
