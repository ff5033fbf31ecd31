import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from hrformer_seg.registry import VISUALIZERS
from hrformer_seg.structures import SegDataSample
from hrformer_seg.visualization import (
    SegLocalVisualizer,
    cityscapes_metainfo,
    colorize,
    resolve_meta,
)

PALETTE = [(200, 0, 0), (0, 100, 0), (0, 0, 50)]
CLASSES = ['red', 'green', 'blue']


def _sample(gt=None, pred=None):
    sample = SegDataSample()
    if gt is not None:
        sample.gt_sem_seg = PixelData(data=torch.as_tensor(gt)[None])
    if pred is not None:
        sample.pred_sem_seg = PixelData(data=torch.as_tensor(pred)[None])
    return sample


def _visualizer(name, **kwargs):
    return SegLocalVisualizer(name=name, classes=CLASSES, palette=PALETTE,
                              **kwargs)


def test_cityscapes_metainfo_is_the_official_table():
    meta = cityscapes_metainfo()
    assert len(meta['classes']) == len(meta['palette']) == 19
    assert meta['classes'][0] == 'road' and meta['classes'][18] == 'bicycle'
    assert meta['palette'][0] == [128, 64, 128]  # road
    assert meta['palette'][13] == [0, 0, 142]  # car
    from hrformer_seg.datasets import CityscapesDataset
    assert meta['classes'] == list(CityscapesDataset.METAINFO['classes'])
    assert meta['palette'] == [list(c) for c in
                               CityscapesDataset.METAINFO['palette']]


def test_resolve_meta_extends_short_metainfo():
    classes, palette = resolve_meta(dict(classes=['a', 'b']), num_labels=4)
    assert classes == ['a', 'b', 'class2', 'class3']
    assert len(palette) == 4
    classes, palette = resolve_meta(None)
    assert len(classes) == 19


def test_colorize_ignores_labels_outside_palette():
    labels = np.array([[0, 1], [255, -1]])
    color = colorize(labels, PALETTE, ignore_color=(7, 7, 7))
    assert color[0, 0].tolist() == [200, 0, 0]
    assert color[0, 1].tolist() == [0, 100, 0]
    assert color[1, 0].tolist() == [7, 7, 7]
    assert color[1, 1].tolist() == [7, 7, 7]


def test_draw_sem_seg_blends_by_hand():
    vis = _visualizer('blend', alpha=0.25)
    image = np.full((2, 2, 3), 100, np.uint8)
    labels = np.array([[0, 1], [2, 255]])
    out = vis.draw_sem_seg(image, labels)
    # 0.75 * 100 + 0.25 * colour
    assert out[0, 0].tolist() == [125, 75, 75]
    assert out[0, 1].tolist() == [75, 100, 75]
    assert out[1, 0].tolist() == [75, 75, 88]  # 75 + 12.5 rounds to 88
    assert out[1, 1].tolist() == [100, 100, 100]  # ignore: image unchanged
    assert image[0, 0].tolist() == [100, 100, 100]  # input untouched


def test_draw_sem_seg_resizes_label_map_nearest():
    vis = _visualizer('resize', alpha=1.0)
    image = np.zeros((4, 4, 3), np.uint8)
    out = vis.draw_sem_seg(image, np.array([[0, 1], [2, 0]]))
    assert out[0, 0].tolist() == list(PALETTE[0])
    assert out[0, 3].tolist() == list(PALETTE[1])
    assert out[3, 0].tolist() == list(PALETTE[2])


def test_compose_panel_layout():
    vis = _visualizer('layout', alpha=1.0)
    h, w = 24, 40
    image = np.zeros((h, w, 3), np.uint8)
    gt = np.zeros((h, w), np.int64)
    pred = np.ones((h, w), np.int64)
    both = vis.compose(image, _sample(gt, pred), with_labels=False)
    assert both.shape == (h, 2 * w, 3)
    # ground truth left, prediction right; bottom-right pixel of each panel
    assert both[-1, w - 1].tolist() == list(PALETTE[0])
    assert both[-1, 2 * w - 1].tolist() == list(PALETTE[1])
    only_pred = vis.compose(image, _sample(pred=pred), with_labels=False)
    assert only_pred.shape == (h, w, 3)
    no_gt = vis.compose(image, _sample(gt, pred), draw_gt=False,
                        with_labels=False)
    assert np.array_equal(no_gt, only_pred)
    nothing = vis.compose(image, SegDataSample(), with_labels=False)
    assert np.array_equal(nothing, image)


def test_legend_lists_present_classes_only():
    vis = _visualizer('legend', alpha=0.5)
    h, w = 60, 120
    image = np.full((h, w, 3), 255, np.uint8)
    gt = np.zeros((h, w), np.int64)
    pred = np.zeros((h, w), np.int64)
    pred[:, w // 2:] = 2  # 'blue' only in the prediction; 'green' nowhere
    drawn = vis.compose(image, _sample(gt, pred), with_labels=True)
    assert drawn.shape[1] == 2 * w and drawn.shape[0] > h
    band = drawn[h:].reshape(-1, 3)
    colours = {tuple(c) for c in band.tolist()}
    assert PALETTE[0] in colours and PALETTE[2] in colours
    assert PALETTE[1] not in colours


def test_add_datasample_writes_out_file(tmp_path):
    vis = _visualizer('outfile')
    h, w = 32, 48
    rng = np.random.RandomState(0)
    image = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
    gt = rng.randint(0, 3, (h, w))
    out_file = str(tmp_path / 'sub' / 'pic.png')
    vis.add_datasample('pic', image, _sample(gt, gt), out_file=out_file,
                       with_labels=False)
    saved = cv2.imread(out_file)
    assert saved.shape == (h, 2 * w, 3)
    expected_left = vis.draw_sem_seg(image, gt)
    assert np.array_equal(saved[:, :w, ::-1], expected_left)
    assert np.array_equal(vis.get_image().shape, (h, 2 * w, 3))


def test_add_datasample_goes_to_local_backend(tmp_path):
    init_default_scope('hrformer_seg')
    vis = VISUALIZERS.build(
        dict(type='SegLocalVisualizer', name='backend_local',
             vis_backends=[dict(type='LocalVisBackend')],
             save_dir=str(tmp_path)))
    image = np.zeros((16, 16, 3), np.uint8)
    vis.add_datasample('frame', image, _sample(pred=np.ones((16, 16))),
                       step=3)
    path = tmp_path / 'vis_data' / 'vis_image' / 'frame_3.png'
    assert cv2.imread(str(path)).shape[1] == 16


def test_add_datasample_goes_to_tensorboard(tmp_path):
    pytest.importorskip('tensorboard')
    vis = SegLocalVisualizer(
        name='backend_tb',
        vis_backends=[dict(type='TensorboardVisBackend')],
        save_dir=str(tmp_path))
    vis.add_datasample('frame', np.zeros((16, 16, 3), np.uint8),
                       _sample(pred=np.ones((16, 16))), step=1)
    vis.close()
    events = glob.glob(osp.join(str(tmp_path), 'vis_data', 'events.out.*'))
    assert events and osp.getsize(events[0]) > 100


def test_bad_inputs_are_named(tmp_path):
    vis = _visualizer('bad')
    with pytest.raises(ValueError, match='RGB'):
        vis.compose(np.zeros((4, 4, 4), np.uint8),
                    _sample(pred=np.ones((4, 4))))
    with pytest.raises(ValueError, match='label map'):
        vis.draw_sem_seg(np.zeros((4, 4, 3), np.uint8), np.ones((2, 4, 4)))
    with pytest.raises(OSError, match='pic.unknownext'):
        vis.add_datasample('x', np.zeros((4, 4, 3), np.uint8),
                           _sample(pred=np.ones((4, 4))),
                           out_file=str(tmp_path / 'pic.unknownext'))
    with pytest.raises(ValueError, match='alpha'):
        SegLocalVisualizer(name='bad_alpha', alpha=2.0)
