"""Loading images and label maps; errors name the file."""
import cv2
import numpy as np
import pytest

from hrformer_seg.datasets.transforms import (
    CorruptFileError,
    LabelMapWarning,
    LoadAnnotations,
    LoadImageFromFile,
)
from hrformer_seg.registry import TRANSFORMS


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    label = rng.choice([0, 3, 18, 255], (24, 40)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'img.png'), img)
    cv2.imwrite(str(tmp_path / 'img.jpg'), img)
    cv2.imwrite(str(tmp_path / 'label.png'), label)
    return tmp_path, img, label


def truncate(path, keep):
    data = path.read_bytes()
    out = path.with_name('cut_' + path.name)
    out.write_bytes(data[:int(len(data) * keep)] if keep < 1 else
                    data[:len(data) - 12])  # only the IEND chunk missing
    return out


def test_registered_in_our_scope():
    assert TRANSFORMS.get('LoadImageFromFile') is LoadImageFromFile
    assert TRANSFORMS.get('LoadAnnotations') is LoadAnnotations


def test_loads_bgr_image(files):
    root, img, _ = files
    out = LoadImageFromFile()(dict(img_path=str(root / 'img.png')))
    assert np.array_equal(out['img'], img)  # cv2 wrote BGR, reads BGR
    assert out['img_shape'] == out['ori_shape'] == (24, 40)
    f32 = LoadImageFromFile(to_float32=True)(dict(
        img_path=str(root / 'img.png')))
    assert f32['img'].dtype == np.float32


@pytest.mark.parametrize('name,keep', [('img.png', 0.5), ('img.png', 0.9),
                                       ('img.png', 1.0), ('img.jpg', 0.5),
                                       ('img.jpg', 0.9)])
def test_truncated_image_names_the_file(files, keep, name):
    root = files[0]
    cut = truncate(root / name, keep)
    with pytest.raises(CorruptFileError, match=str(cut)):
        LoadImageFromFile()(dict(img_path=str(cut)))


def test_garbage_empty_and_missing_images(files):
    root = files[0]
    (root / 'garbage.png').write_bytes(b'this is not an image at all')
    (root / 'empty.png').write_bytes(b'')
    for name in ('garbage.png', 'empty.png'):
        with pytest.raises(CorruptFileError, match=str(root / name)):
            LoadImageFromFile()(dict(img_path=str(root / name)))
    with pytest.raises(FileNotFoundError, match=str(root / 'nope.png')):
        LoadImageFromFile()(dict(img_path=str(root / 'nope.png')))
    assert LoadImageFromFile(ignore_empty=True)(
        dict(img_path=str(root / 'garbage.png'))) is None


def test_label_map_read_unchanged(files):
    root, _, label = files
    out = LoadAnnotations(num_classes=19)(dict(
        seg_map_path=str(root / 'label.png'), seg_fields=[]))
    assert out['gt_seg_map'].dtype == np.uint8
    assert np.array_equal(out['gt_seg_map'], label)
    assert out['seg_fields'] == ['gt_seg_map']


def test_label_values_are_checked(files):
    root, _, label = files
    with pytest.raises(ValueError) as err:
        LoadAnnotations(num_classes=10)(dict(
            seg_map_path=str(root / 'label.png')))
    assert str(root / 'label.png') in str(err.value)
    assert '[18]' in str(err.value)  # 0, 3 and 255 are fine
    # no num_classes: no check
    LoadAnnotations()(dict(seg_map_path=str(root / 'label.png')))
    # another ignore value makes 255 invalid
    with pytest.raises(ValueError, match=r'\[255\]'):
        LoadAnnotations(num_classes=19, ignore_index=0)(dict(
            seg_map_path=str(root / 'label.png')))


@pytest.mark.parametrize('keep', [0.3, 0.8, 1.0])
def test_truncated_label_names_the_file(files, keep):
    cut = truncate(files[0] / 'label.png', keep)
    with pytest.raises(CorruptFileError, match=str(cut)):
        LoadAnnotations()(dict(seg_map_path=str(cut)))


def test_missing_or_absent_label(files):
    root = files[0]
    with pytest.raises(FileNotFoundError, match=str(root / 'no.png')):
        LoadAnnotations()(dict(seg_map_path=str(root / 'no.png')))
    with pytest.raises(ValueError, match='seg_map_path is None'):
        LoadAnnotations()(dict(seg_map_path=None, img_path='x.png'))


def test_colour_image_is_not_a_label_map(files):
    root = files[0]
    with pytest.raises(ValueError, match='img.png'):
        LoadAnnotations()(dict(seg_map_path=str(root / 'img.png')))


def test_label_map_and_reduce_zero_label(files):
    root, _, label = files
    out = LoadAnnotations()(dict(seg_map_path=str(root / 'label.png'),
                                 label_map={0: 1, 3: 255, 18: 0}))
    expected = label.copy()
    expected[label == 0], expected[label == 3], expected[label == 18] = \
        1, 255, 0
    assert np.array_equal(out['gt_seg_map'], expected)

    out = LoadAnnotations()(dict(seg_map_path=str(root / 'label.png'),
                                 reduce_zero_label=True))
    expected = label.astype(int) - 1
    expected[(label == 0) | (label == 255)] = 255
    assert np.array_equal(out['gt_seg_map'], expected)
    with pytest.raises(ValueError, match='disagrees'):
        LoadAnnotations(reduce_zero_label=False)(dict(
            seg_map_path=str(root / 'label.png'), reduce_zero_label=True))


def test_value_of_another_class_count_names_file_and_value(tmp_path):
    label = np.zeros((8, 8), np.uint8)
    label[2:4, 2:4] = 7
    cv2.imwrite(str(tmp_path / 'seven.png'), label)
    with pytest.raises(ValueError) as err:
        LoadAnnotations(num_classes=3)(dict(
            seg_map_path=str(tmp_path / 'seven.png')))
    assert str(tmp_path / 'seven.png') in str(err.value)
    assert '[7]' in str(err.value) and '3 classes' in str(err.value)
    # with reduce_zero_label the value is reported as it is in the file
    with pytest.raises(ValueError, match=r'\[7\]'):
        LoadAnnotations(num_classes=3)(dict(
            seg_map_path=str(tmp_path / 'seven.png'), reduce_zero_label=True))


def test_mask_of_another_size_than_its_image(files):
    root = files[0]
    with pytest.raises(ValueError) as err:
        LoadAnnotations()(dict(seg_map_path=str(root / 'label.png'),
                               img_path=str(root / 'img.png'),
                               ori_shape=(24, 41)))
    assert str(root / 'label.png') in str(err.value)
    assert str(root / 'img.png') in str(err.value)
    assert '40x24' in str(err.value) and '41x24' in str(err.value)
    # the image's original size counts, not its size after a Resize
    LoadAnnotations()(dict(seg_map_path=str(root / 'label.png'),
                           ori_shape=(24, 40), img_shape=(48, 80)))


def test_0_255_mask_warns_once_naming_the_file(tmp_path, recwarn):
    mask = np.zeros((8, 8), np.uint8)
    mask[:4] = 255
    cv2.imwrite(str(tmp_path / 'binary.png'), mask)
    load = LoadAnnotations(num_classes=2)
    with pytest.warns(LabelMapWarning) as caught:
        load(dict(seg_map_path=str(tmp_path / 'binary.png')))
    assert str(tmp_path / 'binary.png') in str(caught[0].message)
    assert 'ignore' in str(caught[0].message)
    recwarn.clear()
    load(dict(seg_map_path=str(tmp_path / 'binary.png')))  # once per file
    assert not [w for w in recwarn if w.category is LabelMapWarning]
    # 0/1 masks and masks with ignored pixels among classes are fine
    mask[:4] = 1
    mask[0, 0] = 255
    cv2.imwrite(str(tmp_path / 'fixed.png'), mask)
    load(dict(seg_map_path=str(tmp_path / 'fixed.png')))
    assert not [w for w in recwarn if w.category is LabelMapWarning]
