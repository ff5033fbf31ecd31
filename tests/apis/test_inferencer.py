"""SegInferencer on files, folders and arrays; model bundles."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from hrformer_seg.apis import SegInferencer, init_model
from hrformer_seg.structures import SegDataSample
from tests.helpers.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
TINY_CFG = str(ROOT / 'tests' / 'helpers' / 'tiny_ocrnet_config.py')
PUBLISH = ROOT / 'tools' / 'model_converters' / 'publish_model.py'

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def inferencer(data_root):
    torch.manual_seed(0)
    return SegInferencer(TINY_CFG, device='cpu', show_progress=False)


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp('photos')
    rng = np.random.default_rng(0)
    for name, (h, w) in (('a', (40, 72)), ('b', (56, 50))):
        cv2.imwrite(str(folder / f'{name}.jpg'),
                    rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    (folder / 'readme.txt').write_text('not an image')
    return folder


def test_folder_files_and_arrays_give_input_sized_maps(inferencer, images):
    result = inferencer(str(images), batch_size=2)
    assert set(result) == {'predictions', 'visualization'}
    assert [p.shape for p in result['predictions']] == [(40, 72), (56, 50)]
    assert all(p.dtype == np.uint8 and p.max() < 19
               for p in result['predictions'])
    assert result['visualization'] == []
    assert inferencer.names == ['a', 'b']
    # one file, a list of files, arrays: the same predictions
    single = inferencer(str(images / 'a.jpg'))['predictions']
    assert len(single) == 1
    assert np.array_equal(single[0], result['predictions'][0])
    array = cv2.imread(str(images / 'b.jpg'))
    from_arrays = inferencer([array, array], batch_size=1)['predictions']
    assert all(np.array_equal(p, result['predictions'][1])
               for p in from_arrays)
    samples = inferencer([images / 'a.jpg'], return_datasamples=True)
    assert isinstance(samples['predictions'][0], SegDataSample)


def test_out_dir_and_pictures(inferencer, images, tmp_path):
    result = inferencer(str(images), out_dir=str(tmp_path), return_vis=True)
    for name, pred, vis in zip('ab', result['predictions'],
                               result['visualization']):
        written = cv2.imread(str(tmp_path / 'pred' / f'{name}.png'),
                             cv2.IMREAD_UNCHANGED)
        assert np.array_equal(written, pred)
        picture = cv2.imread(str(tmp_path / 'vis' / f'{name}.png'))
        assert picture.shape == vis.shape
        assert vis.shape[1] == pred.shape[1] and vis.shape[0] >= pred.shape[0]
    arrays = inferencer([np.zeros((8, 8, 3), np.uint8)] * 2,
                        out_dir=str(tmp_path / 'arrays'))
    assert len(arrays['predictions']) == 2
    assert sorted(p.name for p in (tmp_path / 'arrays' / 'pred').iterdir()
                  ) == ['00000000.png', '00000001.png']


def test_bad_inputs_are_named(inferencer, images, tmp_path):
    with pytest.raises(ValueError, match='a.jpg and .*a.png'):
        inferencer([str(images / 'a.jpg'), str(tmp_path / 'x' / 'a.png')])
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inferencer(str(tmp_path / 'missing.jpg'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no image'):
        inferencer(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='not a model bundle'):
        SegInferencer(str(tmp_path / 'empty'))


def test_bundle_round_trip(data_root, inferencer, images, tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    meta = dict(classes=[f'c{i}' for i in range(19)],
                palette=[[i, 2 * i, 3 * i] for i in range(19)])
    ckpt = work / 'iter_8.pth'
    torch.save(dict(state_dict=inferencer.model.state_dict(),
                    meta=dict(dataset_meta=meta, iter=8),
                    optimizer=dict(state={})), ckpt)
    publish = load_script(PUBLISH)
    with pytest.raises(FileNotFoundError, match='--config'):
        publish.main([str(ckpt), str(tmp_path / 'bundle')])
    bundle = tmp_path / 'bundle'
    publish.main([str(ckpt), str(bundle), '--config', TINY_CFG,
                  '--name', 'tiny'])
    weights = torch.load(bundle / 'weights.pth', weights_only=True)
    assert set(weights) == {'state_dict', 'meta'}  # no optimizer state
    card = (bundle / 'README.md').read_text()
    assert card.startswith('# tiny') and '| 18 | c18 | (18, 36, 54) |' in card
    assert 'No validation or test metrics' in card
    model = init_model(str(bundle))
    assert model.dataset_meta == meta
    for key, value in inferencer.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    from_bundle = SegInferencer(str(bundle), show_progress=False)
    assert np.array_equal(from_bundle(str(images))['predictions'][0],
                          inferencer(str(images))['predictions'][0])
