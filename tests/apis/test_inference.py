"""init_model / inference_model / show_result_pyplot and the demo scripts."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from hrformer_seg.apis import inference_model, init_model, show_result_pyplot
from hrformer_seg.structures import SegDataSample
from hrformer_seg.utils.checkpoint import CheckpointError
from hrformer_seg.visualization import cityscapes_metainfo
from tests.helpers.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
TINY_CFG = str(ROOT / 'tests' / 'helpers' / 'tiny_ocrnet_config.py')
DEMO = ROOT / 'demo'


# tiny tensors run faster on one torch thread (shared fixture in
# tests/conftest.py)
pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def model(data_root):
    torch.manual_seed(0)
    return init_model(TINY_CFG)


@pytest.fixture(scope='module')
def val_images(data_root):
    images = sorted((data_root / 'leftImg8bit' / 'val').rglob('*.png'))
    assert images
    return [str(p) for p in images]


def test_init_model_defaults(model):
    assert not model.training
    assert next(model.parameters()).device.type == 'cpu'
    assert model.dataset_meta == cityscapes_metainfo()
    assert model.cfg.model.type == 'CascadeEncoderDecoder'


def test_init_model_turns_syncbn_into_bn(data_root):
    model = init_model(TINY_CFG, cfg_options={
        'model.backbone.norm_cfg.type': 'SyncBN',
        'model.decode_head.ocr.norm_cfg.type': 'SyncBN'})
    kinds = {type(m).__name__ for m in model.modules()}
    assert 'SyncBatchNorm' not in kinds and 'BatchNorm2d' in kinds


def test_checkpoint_round_trip(model, data_root, tmp_path):
    meta = dict(classes=[f'c{i}' for i in range(19)],
                palette=[[i, i, i] for i in range(19)])
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(
        dataset_meta=meta, iter=2)), path)
    loaded = init_model(TINY_CFG, str(path))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded.dataset_meta['classes'] == meta['classes']


def test_checkpoint_of_a_wrapped_model_and_bad_weights(model, data_root,
                                                      tmp_path):
    # DataParallel/DDP 'module.' prefixes are stripped
    path = tmp_path / 'ddp.pth'
    torch.save(dict(state_dict={f'module.{k}': v for k, v in
                                model.state_dict().items()}), path)
    loaded = init_model(TINY_CFG, str(path))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    torch.save(dict(state_dict=dict(weights=[1, 2])), tmp_path / 'bad.pth')
    with pytest.raises(CheckpointError, match='bad.pth'):
        init_model(TINY_CFG, str(tmp_path / 'bad.pth'))


def test_bad_files_are_named(model, data_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        init_model(str(tmp_path / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_model(TINY_CFG, str(tmp_path / 'nope.pth'))
    partial = {k: v for k, v in model.state_dict().items()
               if not k.startswith('backbone.stage4')}
    torch.save(dict(state_dict=partial), tmp_path / 'partial.pth')
    with pytest.raises(KeyError, match='partial.pth'):
        init_model(TINY_CFG, str(tmp_path / 'partial.pth'))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        inference_model(model, str(tmp_path / 'missing.png'))


def test_inference_matches_manual_forward(model, val_images):
    path = val_images[0]
    result = inference_model(model, path)
    assert isinstance(result, SegDataSample)
    bgr = cv2.imread(path)
    assert tuple(result.pred_sem_seg.shape) == bgr.shape[:2]
    # independent pre-processing: RGB, ImageNet mean/std, whole image
    rgb = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1).float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    with torch.no_grad():
        logits = model.encode_decode(((rgb - mean) / std)[None])[0]
    assert torch.allclose(result.seg_logits.data, logits, atol=1e-5)
    assert torch.equal(result.pred_sem_seg.data[0], logits.argmax(0))


def test_inference_on_arrays_and_lists(model, val_images):
    path = val_images[0]
    from_path = inference_model(model, path)
    results = inference_model(model, [path, cv2.imread(path), val_images[1]])
    assert isinstance(results, list) and len(results) == 3
    assert torch.allclose(results[1].seg_logits.data,
                          from_path.seg_logits.data, atol=1e-5)
    assert results[2].img_path == val_images[1]
    assert inference_model(model, []) == []


def test_show_result_pyplot(model, val_images, tmp_path):
    path = val_images[0]
    h, w = cv2.imread(path).shape[:2]
    result = inference_model(model, path)
    out = tmp_path / 'res.png'
    drawn = show_result_pyplot(model, path, result, out_file=str(out),
                               with_labels=False)
    assert drawn.shape == (h, w, 3)
    assert cv2.imread(str(out)).shape == (h, w, 3)
    result.gt_sem_seg = result.pred_sem_seg.clone()
    drawn = show_result_pyplot(model, path, result, with_labels=True)
    assert drawn.shape[1] == 2 * w and drawn.shape[0] > h


def test_image_demo(model, data_root, val_images, tmp_path):
    image_demo = load_script(DEMO / 'image_demo.py')
    out, mask = tmp_path / 'demo.png', tmp_path / 'mask.png'
    image_demo.main([val_images[0], TINY_CFG, '--out-file', str(out),
                     '--mask-file', str(mask), '--opacity', '0.7'])
    h, w = cv2.imread(val_images[0]).shape[:2]
    pic = cv2.imread(str(out))
    assert pic.shape[1] == w and pic.shape[0] >= h
    saved = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
    assert saved.shape == (h, w) and saved.max() < 19


def test_folder_demo(data_root, val_images, tmp_path):
    folder_demo = load_script(DEMO / 'folder_demo.py')
    src = tmp_path / 'photos'
    src.mkdir()
    for path in val_images:
        shutil.copy(path, src)
    (src / 'notes.txt').write_text('not an image')
    out = tmp_path / 'out'
    written = folder_demo.main([str(src), TINY_CFG, '--out-dir', str(out),
                                '--batch-size', '2'])
    assert len(written) == len(val_images) == 2
    for path in written:
        assert cv2.imread(path) is not None
    preds = sorted((out / 'pred').glob('*.png'))
    assert [p.stem for p in preds] == sorted(Path(p).stem
                                             for p in val_images)
    h, w = cv2.imread(val_images[0]).shape[:2]
    assert cv2.imread(str(preds[0]), cv2.IMREAD_UNCHANGED).shape == (h, w)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='no image'):
        folder_demo.main([str(empty), TINY_CFG, '--out-dir', str(tmp_path)])


def test_video_demo(data_root, val_images, tmp_path):
    video_demo = load_script(DEMO / 'video_demo.py')
    frame = cv2.imread(val_images[0])
    h, w = frame.shape[:2]
    video = str(tmp_path / 'in.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             (w, h))
    assert writer.isOpened()
    for i in range(4):
        writer.write(np.roll(frame, 8 * i, axis=1))
    writer.release()
    out = str(tmp_path / 'out.mp4')
    assert video_demo.main([video, TINY_CFG, '--output-file', out]) == 4
    capture = cv2.VideoCapture(out)
    count = 0
    while True:
        ok, got = capture.read()
        if not ok:
            break
        assert got.shape == (h, w, 3)
        count += 1
    capture.release()
    assert count == 4
    with pytest.raises(FileNotFoundError, match='none.mp4'):
        video_demo.main([str(tmp_path / 'none.mp4'), TINY_CFG,
                         '--output-file', out])
