"""Polygon JSON -> train IDs with cityscapesscripts, split lists."""
import json
import os
import shutil
import time

import cv2
import numpy as np
import pytest

from hrformer_seg.datasets.cityscapes_convert import (
    convert_cityscapes,
    polygons_to_train_ids,
)
from hrformer_seg.scene_generator import (
    generate_cityscapes_like,
    render_scene,
    scene_name,
    scene_rng,
)


@pytest.fixture
def generated(tmp_path):
    root = tmp_path / 'cs'
    generate_cityscapes_like(str(root), 3, 2, 1, height=64, width=128,
                             seed=11, show_progress=False)
    return root


def test_converted_labels_equal_the_generators_own(generated):
    stats = convert_cityscapes(str(generated), show_progress=False)
    assert stats['converted'] == 5 and stats['skipped'] == 0
    for split, n in (('train', 3), ('val', 2)):
        for i in range(n):
            city, stem = scene_name(split, i)
            got = cv2.imread(str(generated / 'gtFine' / split / city /
                                 f'{stem}_gtFine_labelTrainIds.png'),
                             cv2.IMREAD_UNCHANGED)
            scene = render_scene(64, 128, scene_rng(11, split, i))
            assert got.dtype == np.uint8
            assert np.array_equal(got, scene.train_ids), (split, i)
            assert len(set(np.unique(got).tolist()) - {255}) >= 5


def test_split_lists(generated, tmp_path):
    out = tmp_path / 'lists'
    stats = convert_cityscapes(str(generated), out_dir=str(out),
                               show_progress=False)
    assert stats['splits'] == dict(train=3, val=2, test=1)
    for split, n in stats['splits'].items():
        ids = (out / f'{split}.txt').read_text().split()
        assert ids == sorted(ids) and len(ids) == n
        for i in ids:
            assert (generated / 'leftImg8bit' / split /
                    f'{i}_leftImg8bit.png').is_file()


def test_idempotent_and_force(generated):
    convert_cityscapes(str(generated), show_progress=False)
    again = convert_cityscapes(str(generated), show_progress=False)
    assert again['converted'] == 0 and again['skipped'] == 5
    # a JSON edited after conversion is converted again
    js = sorted((generated / 'gtFine' / 'val').rglob('*_polygons.json'))[0]
    later = time.time() + 5
    os.utime(js, (later, later))
    assert convert_cityscapes(str(generated),
                              show_progress=False)['converted'] == 1
    assert convert_cityscapes(str(generated), force=True,
                              show_progress=False)['converted'] == 5


def test_parallel_conversion_gives_the_same_files(generated, tmp_path):
    other = tmp_path / 'other'
    shutil.copytree(generated, other)
    convert_cityscapes(str(generated), nproc=1, show_progress=False)
    convert_cityscapes(str(other), nproc=2, show_progress=False)
    for p in generated.rglob('*_labelTrainIds.png'):
        q = other / p.relative_to(generated)
        assert np.array_equal(cv2.imread(str(p), cv2.IMREAD_UNCHANGED),
                              cv2.imread(str(q), cv2.IMREAD_UNCHANGED))


def test_unknown_label_names_the_file(generated):
    js = sorted((generated / 'gtFine' / 'train').rglob('*_polygons.json'))[0]
    ann = json.loads(js.read_text())
    ann['objects'][0]['label'] = 'unicorn'
    js.write_text(json.dumps(ann))
    with pytest.raises(ValueError, match=js.name):
        polygons_to_train_ids(str(js))
    assert not list(js.parent.glob('*.tmp.png'))


def test_missing_annotation_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='gtFine'):
        convert_cityscapes(str(tmp_path), show_progress=False)
    (tmp_path / 'gtFine').mkdir()
    with pytest.raises(FileNotFoundError, match='polygons.json'):
        convert_cityscapes(str(tmp_path), show_progress=False)
