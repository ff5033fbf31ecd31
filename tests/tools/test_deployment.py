"""tools/deployment: ONNX export with onnxruntime parity, ONNX inference."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from hrformer_seg.apis import inference_model, init_model
from tests.helpers.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
TINY_CFG = str(ROOT / 'tests' / 'helpers' / 'tiny_ocrnet_config.py')
DEPLOYMENT = ROOT / 'tools' / 'deployment'

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
onnx_inference = load_script(DEPLOYMENT / 'onnx_inference.py')
pytorch2onnx = load_script(DEPLOYMENT / 'pytorch2onnx.py')

CLASSES = [f'class{i}' for i in range(19)]
PALETTE = [[(37 * i) % 256, (91 * i) % 256, (53 * i + 7) % 256]
           for i in range(19)]


# tiny tensors run faster on one torch thread (shared fixture in
# tests/conftest.py)
pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def checkpoint(data_root, tmp_path_factory):
    torch.manual_seed(0)
    model = init_model(TINY_CFG)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=CLASSES,
                                                palette=PALETTE))), path)
    return str(path)


@pytest.fixture(scope='module')
def exported(checkpoint, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('onnx') / 'tiny.onnx')
    # the default exporter; the dynamo one is tested below (slow)
    reports = pytorch2onnx.main([TINY_CFG, checkpoint, '--shape', '64', '128',
                                 out])
    return out, reports


def test_export_parity(exported):
    out, reports = exported
    # verified at batch 1 and, through the dynamic batch axis, at batch 3
    assert [r['shape'] for r in reports] == [(1, 3, 64, 128),
                                             (3, 3, 64, 128)]
    for report in reports:
        assert report['rel'] <= 1e-4
        assert report['argmax_agree'] >= 0.999
    model = onnx.load(out)
    onnx.checker.check_model(model)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 64,
                                                                     128]
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta['classes']) == CLASSES
    assert json.loads(meta['palette']) == PALETTE


def test_onnx_matches_inference_model(exported, checkpoint, data_root,
                                      tmp_path):
    out, _ = exported
    image = sorted((data_root / 'leftImg8bit' / 'val').rglob('*.png'))[0]
    mask_file, ids_file = tmp_path / 'mask.png', tmp_path / 'ids.png'
    ids = onnx_inference.main([str(image), out, '--out', str(mask_file),
                               '--ids', str(ids_file), '--overlay',
                               str(tmp_path / 'overlay.png')])
    # the PyTorch path: config pipeline + data preprocessor + model
    reference = inference_model(init_model(TINY_CFG, checkpoint),
                                str(image)).pred_sem_seg.data[0].numpy()
    assert ids.shape == reference.shape
    assert (ids == reference).mean() >= 0.999
    mask = cv2.imread(str(mask_file))[..., ::-1]
    expected = np.asarray(PALETTE, np.uint8)[ids]
    assert np.array_equal(mask, expected)
    assert np.array_equal(cv2.imread(str(ids_file), cv2.IMREAD_UNCHANGED),
                          ids.astype(np.uint8))
    assert cv2.imread(str(tmp_path / 'overlay.png')).shape == mask.shape


def test_onnx_inference_resizes_to_fixed_input(exported, data_root,
                                               tmp_path):
    out, _ = exported
    image = sorted((data_root / 'leftImg8bit' / 'val').rglob('*.png'))[0]
    bigger = tmp_path / 'bigger.png'
    cv2.imwrite(str(bigger), cv2.resize(cv2.imread(str(image)), (200, 90)))
    ids = onnx_inference.main([str(bigger), out, '--out',
                               str(tmp_path / 'm.png')])
    assert ids.shape == (90, 200)
    assert cv2.imread(str(tmp_path / 'm.png')).shape == (90, 200, 3)


def test_missing_files_are_named(checkpoint, tmp_path, exported):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        pytorch2onnx.main([TINY_CFG, str(tmp_path / 'nope.pth'), '--shape',
                           '64', '128', str(tmp_path / 'x.onnx')])
    with pytest.raises(FileNotFoundError, match='nope.onnx'):
        onnx_inference.load_session(str(tmp_path / 'nope.onnx'))
    with pytest.raises(FileNotFoundError, match='nope.png'):
        onnx_inference.main([str(tmp_path / 'nope.png'), exported[0]])


@pytest.mark.slow
def test_dynamo_exporter(checkpoint, data_root, tmp_path):
    out = str(tmp_path / 'dynamo.onnx')
    reports = pytorch2onnx.main([TINY_CFG, checkpoint, '--shape', '64', '96',
                                 out, '--exporter', 'dynamo'])
    assert [r['shape'] for r in reports] == [(1, 3, 64, 96), (3, 3, 64, 96)]
    assert all(r['rel'] <= 1e-4 and r['argmax_agree'] >= 0.999
               for r in reports)
    dims = onnx.load(out).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 64,
                                                                     96]


@pytest.mark.slow
def test_static_batch(checkpoint, data_root, tmp_path):
    out = str(tmp_path / 'static.onnx')
    reports = pytorch2onnx.main([TINY_CFG, checkpoint, '--shape', '64', '96',
                                 out, '--exporter', 'torchscript',
                                 '--static'])
    assert len(reports) == 1 and reports[0]['rel'] <= 1e-4
    dims = onnx.load(out).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [1, 3, 64, 96]
