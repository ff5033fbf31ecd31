"""FolderSegDataset: your own images and masks."""
import pytest

from hrformer_seg.datasets import FolderSegDataset
from tests.helpers.folder_dataset import CLASSES, make_folder_dataset


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_folder_dataset(tmp_path_factory.mktemp('folder'))


def test_pairs_jpg_and_png_images_with_their_masks(root):
    ds = FolderSegDataset(data_root=str(root), metainfo=dict(classes=CLASSES))
    assert len(ds) == 4
    paths = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    assert {p.rsplit('.', 1)[1] for p in paths} == {'jpg', 'png'}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        stem = info['img_path'].rsplit('/', 1)[1].rsplit('.', 1)[0]
        assert info['seg_map_path'].endswith(f'annotations/train/{stem}.png')
    assert ds.metainfo['classes'] == CLASSES
    assert len(ds.metainfo['palette']) == 3  # drawn when not given
    val = FolderSegDataset(
        data_root=str(root), metainfo=dict(classes=CLASSES,
                                           palette=[[0, 0, 0]] * 3),
        data_prefix=dict(img_path='images/val',
                         seg_map_path='annotations/val'))
    assert len(val) == 2 and val.metainfo['palette'][0] == [0, 0, 0]


def test_classes_are_required_once(root):
    with pytest.raises(ValueError, match='needs the names of the classes'):
        FolderSegDataset(data_root=str(root))
    with pytest.raises(ValueError, match=r"\['a'\] are named more than"):
        FolderSegDataset(data_root=str(root),
                         metainfo=dict(classes=('a', 'b', 'a')))


def test_lone_files(root, tmp_path, monkeypatch):
    import shutil
    data = tmp_path / 'data'
    shutil.copytree(root, data)
    (data / 'annotations' / 'train' / 'orphan.png').write_bytes(
        (data / 'annotations' / 'train' / 'train_0.png').read_bytes())
    logged = []
    monkeypatch.setattr('hrformer_seg.datasets.folder.print_log',
                        lambda msg, **kwargs: logged.append(msg))
    ds = FolderSegDataset(data_root=str(data), metainfo=dict(classes=CLASSES))
    assert len(ds) == 4
    assert len(logged) == 1
    assert '1 label maps' in logged[0] and 'orphan.png' in logged[0]
    (data / 'annotations' / 'train' / 'orphan.png').unlink()
    (data / 'annotations' / 'train' / 'train_0.png').unlink()
    with pytest.raises(FileNotFoundError, match='train_0.png'):
        FolderSegDataset(data_root=str(data), metainfo=dict(classes=CLASSES))
    # two images of one name cannot share a mask
    (data / 'annotations' / 'train' / 'train_0.png').write_bytes(
        (data / 'annotations' / 'train' / 'train_2.png').read_bytes())
    shutil.copy(data / 'images' / 'train' / 'train_1.jpg',
                data / 'images' / 'train' / 'train_1.png')
    with pytest.raises(ValueError, match='train_1.jpg and .*train_1.png'):
        FolderSegDataset(data_root=str(data), metainfo=dict(classes=CLASSES))
