import os
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.structures import PixelData
from torch.utils.data import Dataset

from hrformer_seg.registry import HOOKS
from hrformer_seg.structures import SegDataSample
from hrformer_seg.visualization import SegLocalVisualizer, SegVisualizationHook

H, W = 12, 20


@pytest.fixture(autouse=True, scope='module')
def one_torch_thread():
    """Tiny tensors: one thread is faster, and far faster on a busy machine
    (two threads of tiny ops wait on each other's time slices)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _write_image(path, value):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.full((H, W, 3), value, np.uint8))


def _sample(img_path=None, label=1):
    meta = dict(img_path=img_path) if img_path else {}
    sample = SegDataSample(metainfo=meta)
    sample.gt_sem_seg = PixelData(data=torch.zeros(1, H, W, dtype=torch.long))
    sample.pred_sem_seg = PixelData(
        data=torch.full((1, H, W), label, dtype=torch.long))
    return sample


def _runner(tmp_path, name):
    visualizer = SegLocalVisualizer(
        name=name, vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path))
    return SimpleNamespace(visualizer=visualizer, iter=7)


def _vis_images(tmp_path):
    folder = tmp_path / 'vis_data' / 'vis_image'
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_registered():
    assert HOOKS.get('SegVisualizationHook') is SegVisualizationHook


def test_draw_false_draws_nothing(tmp_path):
    runner = _runner(tmp_path, 'hook_off')
    hook = SegVisualizationHook()
    img = str(tmp_path / 'img' / 'a.png')
    _write_image(img, 50)
    hook.after_val_iter(runner, 0, None, [_sample(img)])
    hook.after_test_iter(runner, 0, None, [_sample(img)])
    assert _vis_images(tmp_path) == []


def test_test_iter_interval_and_names(tmp_path):
    runner = _runner(tmp_path, 'hook_test')
    hook = SegVisualizationHook(draw=True, interval=2)
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / 'img' / f'city_{i}_leftImg8bit.png'))
        _write_image(paths[-1], 10 * i)
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, None,
                         [_sample(paths[0]), _sample(paths[1])])
    hook.after_test_iter(runner, 1, None, [_sample(paths[2])])
    # samples 0 and 2 of the test set, step = sample index
    assert _vis_images(tmp_path) == ['city_0_leftImg8bit_0.png',
                                     'city_2_leftImg8bit_2.png']
    pic = cv2.imread(str(tmp_path / 'vis_data' / 'vis_image' /
                         'city_2_leftImg8bit_2.png'))
    assert pic.shape[1] == 2 * W and pic.shape[0] > H  # gt | pred + legend


def test_val_iter_uses_training_iteration(tmp_path):
    runner = _runner(tmp_path, 'hook_val')
    hook = SegVisualizationHook(draw=True, interval=1, with_labels=False)
    img = str(tmp_path / 'img' / 'b.png')
    _write_image(img, 80)
    hook.after_val_iter(runner, 0, None, [_sample(img), _sample(img)])
    assert _vis_images(tmp_path) == ['val_b_7.png']
    pic = cv2.imread(str(tmp_path / 'vis_data' / 'vis_image' / 'val_b_7.png'))
    assert pic.shape == (H, 2 * W, 3)


def test_show_dir_and_fallback_to_inputs(tmp_path):
    runner = _runner(tmp_path, 'hook_dir')
    show_dir = tmp_path / 'show'
    hook = SegVisualizationHook(draw=True, interval=1, show_dir=str(show_dir),
                                with_labels=False)
    # no img_path: the network input (3, h, w) BGR is resized to the prediction
    inputs = [torch.full((3, H // 2, W // 2), 0, dtype=torch.uint8)]
    inputs[0][2] = 200  # red channel in BGR order
    hook.after_test_iter(runner, 0, dict(inputs=inputs), [_sample(None)])
    assert _vis_images(tmp_path) == []  # backends skipped
    pic = cv2.imread(str(show_dir / 'sample0.png'))
    assert pic.shape == (H, 2 * W, 3)
    # left panel: ground truth class 0 (road, 128/64/128) over a red image
    expected = runner.visualizer.draw_sem_seg(
        np.dstack([np.full((H, W), 200, np.uint8),
                   np.zeros((H, W), np.uint8), np.zeros((H, W), np.uint8)]),
        np.zeros((H, W), np.int64))
    assert np.array_equal(pic[:, :W, ::-1], expected)


def test_unreadable_image_is_named(tmp_path):
    runner = _runner(tmp_path, 'hook_bad')
    hook = SegVisualizationHook(draw=True, interval=1)
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'not a png')
    with pytest.raises(OSError, match='broken.png'):
        hook.after_test_iter(runner, 0, None, [_sample(str(bad))])


class _ToyDataset(Dataset):
    metainfo = dict(classes=['a', 'b'], palette=[[255, 0, 0], [0, 0, 255]])

    def __init__(self, folder):
        self.paths = []
        for i in range(3):
            self.paths.append(osp.join(folder, f'im{i}.png'))
            _write_image(self.paths[-1], 40 * i)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        sample = SegDataSample(metainfo=dict(img_path=self.paths[i]))
        sample.gt_sem_seg = PixelData(
            data=torch.zeros(1, H, W, dtype=torch.long))
        return dict(inputs=torch.zeros(3, H, W), data_samples=sample)


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='predict'):
        for sample in data_samples:
            sample.pred_sem_seg = PixelData(
                data=torch.ones(1, H, W, dtype=torch.long))
        return data_samples


class _NoMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return dict(n=len(results))


def test_runner_test_with_show_dir_settings(tmp_path):
    """The settings tools/test.py makes for --show-dir DIR."""
    show_dir = str(tmp_path / 'show')
    runner = Runner(
        model=_ToyModel(),
        work_dir=str(tmp_path / 'work'),
        test_dataloader=dict(
            dataset=_ToyDataset(str(tmp_path / 'data')),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0,
            collate_fn=dict(type='pseudo_collate')),
        test_cfg=dict(type='TestLoop'),
        test_evaluator=_NoMetric(),
        default_hooks=dict(
            visualization=dict(type='SegVisualizationHook', draw=True,
                               interval=1)),
        visualizer=dict(
            type='SegLocalVisualizer',
            name='runner_vis',
            save_dir=show_dir,
            vis_backends=[dict(type='LocalVisBackend', save_dir=show_dir)]),
        default_scope='hrformer_seg')
    runner.test()
    names = sorted(os.listdir(osp.join(show_dir, 'vis_image')))
    assert names == ['im0_0.png', 'im1_1.png', 'im2_2.png']
    pic = cv2.imread(osp.join(show_dir, 'vis_image', 'im1_1.png'))
    # the dataset's palette was used: prediction class 1 is blue
    right = pic[H - 1, 2 * W - 1]  # BGR
    assert right[0] > 100 and right[2] < 60
