"""tools/analysis_tools: print_config, get_flops, analyze_logs,
confusion_matrix, browse_dataset on a tiny model and dataset."""
import argparse
import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmengine.visualization import LocalVisBackend

from hrformer_seg.structures import SegDataSample
from tests.helpers.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
TINY_CFG = str(ROOT / 'tests' / 'helpers' / 'tiny_ocrnet_config.py')
ANALYSIS = ROOT / 'tools' / 'analysis_tools'

analyze_logs = load_script(ANALYSIS / 'analyze_logs.py')
browse_dataset = load_script(ANALYSIS / 'browse_dataset.py')
confusion_matrix = load_script(ANALYSIS / 'confusion_matrix.py')
get_flops = load_script(ANALYSIS / 'get_flops.py', siblings=['_benchmarks'])
print_config = load_script(ANALYSIS / 'print_config.py')

# tiny tensors run faster on one torch thread (shared fixture in
# tests/conftest.py)
pytestmark = pytest.mark.usefixtures('one_torch_thread')


# ------------------------------------------------------------ print_config
def test_print_config_merges_options(data_root, tmp_path, capsys):
    out = tmp_path / 'merged.py'
    text = print_config.main([TINY_CFG, '--cfg-options',
                              'model.backbone.drop_path_rate=0.3',
                              '--save-path', str(out)])
    assert 'drop_path_rate=0.3' in text
    assert 'CascadeEncoderDecoder' in capsys.readouterr().out
    assert Config.fromfile(str(out)).model.backbone.drop_path_rate == 0.3
    with pytest.raises(FileNotFoundError, match='nope.py'):
        print_config.main([str(tmp_path / 'nope.py')])


# --------------------------------------------------------------- get_flops
def test_get_flops_on_tiny_model(data_root, capsys):
    result = get_flops.main([TINY_CFG, '--shape', '64', '128',
                             '--max-depth', '2'])
    # stem conv 3->16, 3x3, stride 2: 32x64 outputs; 2 FLOPs per
    # multiply-add
    assert result['by_module']['backbone.conv1'] == \
        2 * 32 * 64 * 16 * 3 * 9
    assert result['flops'] == (result['by_module']['backbone'] +
                               result['by_module']['decode_head'])
    assert result['by_module'][''] == result['flops']
    model = get_flops.init_model(TINY_CFG)
    assert result['params'] == sum(p.numel() for p in model.parameters())
    printed = capsys.readouterr().out
    assert 'Input shape: (1, 3, 64, 128)' in printed
    assert 'backbone.stage4' in printed
    assert 'GFLOP (1 multiply-add = 2 FLOPs)' in printed


def test_get_flops_counts_what_the_benchmark_counts(data_root):
    """One FLOP unit and definition: get_flops' total is benchmark.py's
    count of an inference of the same image size (normalisation, the resize
    to the image and the arg-max are element-wise, not counted)."""
    from benchmarks import flops, harness
    args = argparse.Namespace(
        config=TINY_CFG, checkpoint=None, cfg_options={}, device='cpu',
        mode='infer', shape=[64, 128], batch=1, infer_api='predict',
        fuse_conv_bn=False)
    subject = harness.build_ours(args)
    step = harness.make_step(subject, args, torch.device('cpu'))
    total, _ = flops.count_flops(step)
    assert total == get_flops.count(TINY_CFG, (64, 128))['flops']


# ------------------------------------------------------------ analyze_logs
def _write_run(work_dir, stamp, records):
    """A run directory as mmengine's LoggerHook writes it."""
    backend = LocalVisBackend(str(work_dir / stamp / 'vis_data'))
    for record in records:
        record = dict(record)
        step = record.pop('step')
        backend.add_scalars(record, step=step, file_path=f'{stamp}.json')
    return work_dir / stamp / 'vis_data' / f'{stamp}.json'


def test_analyze_logs_resumed_run(tmp_path, capsys):
    work = tmp_path / 'work'
    first = _write_run(work, '20260101_000000', [
        dict(loss=3.0, lr=1e-4, step=10), dict(loss=2.0, lr=2e-4, step=20),
        dict(mIoU=10.0, aAcc=50.0, step=20)])
    _write_run(work, '20260102_000000', [  # resumed from iteration 10
        dict(loss=2.5, lr=2e-4, step=20), dict(loss=1.0, lr=3e-4, step=30),
        dict(mIoU=30.0, aAcc=70.0, step=30)])
    assert analyze_logs.load_curves([str(first)])['loss'] == ([10, 20],
                                                              [3.0, 2.0])
    out = tmp_path / 'curves.png'
    (run, ) = analyze_logs.main([str(work), '--keys', 'loss', 'lr', 'mIoU',
                                 '--out', str(out)])
    assert run['loss'] == ([10, 20, 30], [3.0, 2.5, 1.0])  # later run wins
    assert run['mIoU'] == ([20, 30], [10.0, 30.0])
    picture = cv2.imread(str(out))
    assert picture.shape[:2] == (780, 800)  # 3 panels of 2.6 in, 8 in wide
    assert 'mIoU: 2 points, last 30' in capsys.readouterr().out


def test_analyze_logs_errors(tmp_path):
    log = tmp_path / 'log.json'
    log.write_text(json.dumps(dict(loss=1.0, step=1)) + '\n')
    with pytest.raises(KeyError, match="'loss'"):
        analyze_logs.main([str(log), '--keys', 'mIoU', '--out',
                           str(tmp_path / 'x.png')])
    with pytest.raises(FileNotFoundError, match='missing.json'):
        analyze_logs.main([str(tmp_path / 'missing.json')])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no json log'):
        analyze_logs.main([str(tmp_path / 'empty')])
    log.write_text('{"loss": 1.0, "step": 1}\nnot json\n')
    with pytest.raises(ValueError, match='log.json:2'):
        analyze_logs.main([str(log)])


# -------------------------------------------------------- confusion_matrix
def _val_pairs(root):
    images = sorted((root / 'leftImg8bit' / 'val').rglob('*.png'))
    pairs = []
    for image in images:
        city = image.parent.name
        stem = image.name.replace('_leftImg8bit.png', '')
        label = root / 'gtFine' / 'val' / city / \
            f'{stem}_gtFine_labelTrainIds.png'
        pairs.append((image, cv2.imread(str(label), cv2.IMREAD_UNCHANGED)))
    assert len(pairs) == 2
    return pairs


def _expected(labels, preds, num_classes=19):
    matrix = np.zeros((num_classes, num_classes), np.int64)
    for label, pred in zip(labels, preds):
        for gt_value, pred_value in zip(label.ravel(), pred.ravel()):
            if gt_value != 255:
                matrix[gt_value, pred_value] += 1
    return matrix


def test_confusion_matrix_from_dir_and_pkl(data_root, tmp_path, capsys):
    pairs = _val_pairs(data_root)
    labels = [label for _, label in pairs]
    preds = [np.where(labels[0] == 255, 0, labels[0]).astype(np.uint8),
             np.full_like(labels[1], 13)]  # everything 'car'
    pred_dir = tmp_path / 'preds'
    pred_dir.mkdir()
    samples = []
    for (image, label), pred in zip(pairs, preds):
        cv2.imwrite(str(pred_dir / image.name), pred)  # <image stem>.png
        sample = SegDataSample(metainfo=dict(img_path=str(image)))
        sample.pred_sem_seg = PixelData(
            data=torch.from_numpy(pred.astype(np.int64))[None])
        sample.gt_sem_seg = PixelData(
            data=torch.from_numpy(label.astype(np.int64))[None])
        samples.append(sample.to_dict())
    expected = _expected(labels, preds)

    show = tmp_path / 'show'
    matrix = confusion_matrix.main([TINY_CFG, str(pred_dir), '--show-dir',
                                    str(show)])
    assert np.array_equal(matrix, expected)
    assert np.array_equal(np.load(show / 'confusion_matrix.npy'), expected)
    picture = cv2.imread(str(show / 'confusion_matrix.png'))
    assert picture is not None and min(picture.shape[:2]) > 300
    printed = capsys.readouterr().out
    assert 'car: IoU' in printed

    pkl = tmp_path / 'results.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump(samples, f)
    from_pkl = confusion_matrix.main([TINY_CFG, str(pkl), '--show-dir',
                                      str(tmp_path / 'show_pkl')])
    assert np.array_equal(from_pkl, expected)
    # ground truth read from seg_map_path when the pickle has none
    for sample, (image, _) in zip(samples, pairs):
        del sample['gt_sem_seg']
        sample['seg_map_path'] = str(
            data_root / 'gtFine' / 'val' / image.parent.name /
            image.name.replace('_leftImg8bit.png',
                               '_gtFine_labelTrainIds.png'))
    with open(pkl, 'wb') as f:
        pickle.dump(samples, f)
    assert np.array_equal(
        confusion_matrix.main([TINY_CFG, str(pkl), '--show-dir',
                               str(tmp_path / 'show_pkl2')]), expected)


def test_confusion_matrix_counts_as_iou_metric_does():
    label = np.array([[0, 1], [255, 1]], np.uint8)
    pred = np.array([[0, 0], [1, 1]], np.uint8)
    matrix = confusion_matrix.accumulate(np.zeros((2, 2), np.int64), pred,
                                         label)
    assert matrix.tolist() == [[1, 0], [1, 1]]  # the 255 pixel left out
    for bad_pred, bad_label in ((pred, np.full((2, 2), 7)),
                                (np.full((2, 2), 2), label)):
        with pytest.raises(ValueError, match='outside 0..1.*img.png|'
                           'img.png.*outside 0..1'):
            confusion_matrix.accumulate(np.zeros((2, 2), np.int64),
                                        bad_pred, bad_label, name='img.png')


def test_confusion_matrix_iou_by_hand():
    matrix = np.array([[3, 1], [0, 0]])
    iou = confusion_matrix.iou_from_confusion(matrix)
    assert iou[0] == pytest.approx(3 / 4) and iou[1] == 0.0
    assert np.isnan(confusion_matrix.iou_from_confusion(np.zeros((2, 2))))[0]


def test_confusion_matrix_missing_predictions(data_root, tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='2 of 2 predictions'):
        confusion_matrix.main([TINY_CFG, str(tmp_path / 'empty'),
                               '--show-dir', str(tmp_path)])
    with pytest.raises(FileNotFoundError, match='nothing.pkl'):
        confusion_matrix.main([TINY_CFG, str(tmp_path / 'nothing.pkl'),
                               '--show-dir', str(tmp_path)])


# ---------------------------------------------------------- browse_dataset
def test_browse_dataset(data_root, tmp_path):
    out = tmp_path / 'browse'
    written = browse_dataset.main([TINY_CFG, '--output-dir', str(out),
                                   '--max-samples', '2'])
    assert len(written) == 2
    from hrformer_seg.datasets import CityscapesDataset
    colours = CityscapesDataset.METAINFO['palette']
    for path in written:
        stem = Path(path).stem.replace('_leftImg8bit', '')
        (label_file, ) = (data_root / 'gtFine' / 'train').rglob(
            f'{stem}_gtFine_labelTrainIds.png')
        label = cv2.imread(str(label_file), cv2.IMREAD_UNCHANGED)
        picture = cv2.imread(path)[..., ::-1]
        assert picture.shape[1] == 128 and picture.shape[0] > 64
        # the legend lists every class of the label map in its colour
        legend = {tuple(c) for c in picture[64:].reshape(-1, 3).tolist()}
        for value in np.unique(label):
            if value != 255:
                assert tuple(colours[value]) in legend, value
    with pytest.raises(FileNotFoundError, match='nope.py'):
        browse_dataset.main([str(tmp_path / 'nope.py'), '--output-dir',
                             str(out)])
