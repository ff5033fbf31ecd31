"""The safe weight loader: what it loads, what it refuses, what it says."""
from collections import OrderedDict

import pytest
import torch

from hrformer_seg.utils.checkpoint import (
    CheckpointError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_file,
)

SIDE_EFFECTS = []


def _record(*args):
    SIDE_EFFECTS.append(args)
    return 'executed'


class Payload:
    """Unpickling this would call _record: the loader must never do it."""

    def __reduce__(self):
        return _record, ('unpickled',)


class FakeConfig(dict):
    """A dict subclass stored next to the weights, like yacs' CfgNode."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.__dict__['frozen'] = True


def _weights():
    return OrderedDict(a=torch.arange(4.), b=torch.ones(2, 3))


@pytest.mark.parametrize('layout', ['plain', 'state_dict', 'model', 'ddp'])
def test_loads_common_layouts(tmp_path, layout):
    weights = _weights()
    obj = {
        'plain': weights,
        'state_dict': {'state_dict': weights, 'meta': {'epoch': 3}},
        'model': {'model': weights, 'epoch': 300, 'max_accuracy': 81.2},
        'ddp': {'state_dict': {f'module.{k}': v for k, v in weights.items()}},
    }[layout]
    path = tmp_path / 'w.pth'
    torch.save(obj, path)
    loaded = load_state_dict_file(path)
    assert list(loaded) == ['a', 'b']
    for k, v in weights.items():
        assert torch.equal(loaded[k], v)


def test_missing_file_names_it(tmp_path):
    path = tmp_path / 'nowhere.pth'
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_state_dict_file(path)


def test_truncated_file_names_it(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save({'state_dict': _weights()}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='cut.pth'):
        load_state_dict_file(path)


def test_garbage_file_names_it(tmp_path):
    path = tmp_path / 'garbage.pth'
    path.write_bytes(b'this is not a checkpoint' * 10)
    with pytest.raises(CheckpointError, match='garbage.pth'):
        load_checkpoint_file(path)


def test_refuses_pickled_objects_without_running_them(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': _weights(), 'extra': Payload()}, path)
    SIDE_EFFECTS.clear()
    with pytest.raises(CheckpointError) as info:
        load_state_dict_file(path)
    message = str(info.value)
    assert 'evil.pth' in message
    assert '_record' in message  # the offending global is named
    assert 'weights_only' in message
    assert SIDE_EFFECTS == []  # no fallback to the unsafe loader


def test_dict_like_globals_load_as_plain_dicts(tmp_path):
    path = tmp_path / 'with_config.pth'
    config = FakeConfig(lr=0.1, model=FakeConfig(name='hrt_small'))
    torch.save({'model': _weights(), 'config': config}, path)
    name = f'{FakeConfig.__module__}.{FakeConfig.__qualname__}'
    with pytest.raises(CheckpointError, match=name):
        load_checkpoint_file(path)
    loaded = load_checkpoint_file(path, dict_like_globals=(name, ))
    assert type(loaded['config']) is OrderedDict
    assert loaded['config']['lr'] == 0.1
    assert loaded['config']['model']['name'] == 'hrt_small'
    assert list(load_state_dict_file(path, dict_like_globals=(name, ))) == [
        'a', 'b'
    ]
    # the stand-in is not left enabled afterwards
    with pytest.raises(CheckpointError):
        load_checkpoint_file(path)


def test_extract_state_dict_errors():
    with pytest.raises(CheckpointError, match='my.pth'):
        extract_state_dict([torch.ones(1)], source='my.pth')
    with pytest.raises(CheckpointError, match="'epoch'"):
        extract_state_dict({'w': torch.ones(1), 'epoch': 3}, source='my.pth')
    with pytest.raises(CheckpointError, match='no weights'):
        extract_state_dict({'state_dict': {}}, source='my.pth')
