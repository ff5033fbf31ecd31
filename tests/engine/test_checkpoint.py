"""Issue 6, bullets 1 and 3: atomic writes and weights-only checkpoints.

mmengine 0.10.7 alone: its training checkpoints hold ``HistoryBuffer``
objects and numpy values, so ``torch.load(weights_only=True)`` (torch >= 2.6
default) refuses them; it writes checkpoints in place.
"""
import io
import os

import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.logging import HistoryBuffer
from mmengine.model.weight_init import PretrainedInit
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint

from hrformer_seg.engine import (
    CheckpointError,
    atomic_save,
    register_safe_local_loader,
)
from hrformer_seg.engine.checkpoint import (
    UnencodableValueError,
    decode,
    encode,
    latest_checkpoint,
    remove_stale_temp_files,
)
from hrformer_seg.engine.checkpoint import (
    load_training_checkpoint as load_checkpoint_file,
)
from tests.helpers.engine_runs import TOY_CONFIG, train_in_process

UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)
    return {}


class Payload:
    """Unpickling it runs code (here: records that it ran)."""

    def __reduce__(self):
        return _record_unpickling, ()


def _saved(obj) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


def test_atomic_save_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / 'iter_3.pth'
    atomic_save({'w': torch.ones(3)}, str(path))

    def broken_save(obj, f, *args, **kwargs):
        f.write(b'PK\x03\x04 half a zip')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        atomic_save({'w': torch.zeros(3)}, str(path))
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)['w'],
                       torch.ones(3))
    assert os.listdir(tmp_path) == ['iter_3.pth']


def test_only_temporary_files_of_interrupted_saves_are_removed(tmp_path):
    names = ['.iter_9.pth.k8u5jap8.tmp', '.last_checkpoint.q1w2e3r4.tmp',
             '.notes.tmp', 'iter_9.pth.tmp', 'iter_6.pth']
    for name in names:
        (tmp_path / name).write_bytes(b'x')
    assert sorted(remove_stale_temp_files(str(tmp_path))) == names[:2]
    assert sorted(os.listdir(tmp_path)) == sorted(names[2:])


def test_encoded_mmengine_state_loads_weights_only_and_round_trips():
    buffer = HistoryBuffer([1.5, 2.5], [1, 2], max_length=10)
    bn_state = torch.nn.BatchNorm2d(2).state_dict()  # has _metadata
    state = dict(
        message_hub=dict(log_scalars={'train/loss': buffer},
                         runtime_info={'best_score': np.float64(0.25),
                                       'ids': np.arange(3),
                                       'cfg': ConfigDict(a=dict(b=1)),
                                       'names': {'road', 'car'},
                                       'palette': (np.uint8(3), [4, 5])}),
        state_dict=bn_state,
        rng=np.random.get_state())
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(_saved(state), weights_only=True)

    loaded = decode(torch.load(_saved(encode(state)), weights_only=True))
    hub = loaded['message_hub']
    logs, counts = hub['log_scalars']['train/loss'].data
    assert isinstance(hub['log_scalars']['train/loss'], HistoryBuffer)
    assert logs.tolist() == [1.5, 2.5] and counts.tolist() == [1, 2]
    info = hub['runtime_info']
    assert type(info['best_score']) is np.float64
    assert info['best_score'] == 0.25
    assert info['ids'].dtype == np.arange(3).dtype
    assert info['ids'].tolist() == [0, 1, 2]
    assert isinstance(info['cfg'], ConfigDict) and info['cfg'].a.b == 1
    assert info['names'] == {'road', 'car'}
    assert type(info['palette'][0]) is np.uint8
    assert info['palette'][1] == [4, 5]
    assert loaded['state_dict']._metadata == bn_state._metadata
    assert loaded['rng'][0] == 'MT19937'
    assert np.array_equal(loaded['rng'][1], state['rng'][1])


def test_encode_names_the_key_of_an_unencodable_value():
    with pytest.raises(UnencodableValueError, match=r'checkpoint\.meta\.x'):
        encode({'meta': {'x': object()}})


def test_training_checkpoint_is_weights_only(reference_run):
    raw = torch.load(reference_run / 'iter_12.pth', weights_only=True)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer',
            'param_schedulers', 'rng_states', 'train_loop'} <= set(raw)
    assert raw['train_loop']['samples_seen'] == 12 * 2
    checkpoint = load_checkpoint_file(reference_run / 'iter_12.pth')
    scalars = checkpoint['message_hub']['log_scalars']
    assert isinstance(scalars['train/loss'], HistoryBuffer)
    assert checkpoint['meta']['dataset_meta']['classes'] == (
        'road', 'car', 'sky', 'tree')


def test_unsafe_file_refused_by_every_loading_path(tmp_path):
    evil = tmp_path / 'pretrained.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}, 'extra': Payload()},
               evil)
    model = torch.nn.Linear(1, 1)
    register_safe_local_loader()  # as the tools do
    loaders = [
        lambda: load_checkpoint_file(evil),
        lambda: _load_checkpoint(str(evil)),  # runner.load_checkpoint
        lambda: load_checkpoint(model, str(evil)),
        lambda: PretrainedInit(checkpoint=str(evil))(model),
    ]
    for load in loaders:
        with pytest.raises(CheckpointError) as info:
            load()
        assert str(evil) in str(info.value)
        assert '_record_unpickling' in str(info.value)
    assert UNPICKLED == []


def test_resume_refuses_unsafe_checkpoint(tmp_path, reference_run):
    checkpoint = torch.load(reference_run / 'iter_12.pth', weights_only=True)
    checkpoint['meta']['extra'] = Payload()
    evil = tmp_path / 'iter_12.pth'
    torch.save(checkpoint, evil)
    with pytest.raises(CheckpointError, match='_record_unpickling'):
        train_in_process(TOY_CONFIG, tmp_path / 'w', '--resume', str(evil))
    assert UNPICKLED == []


def test_config_text_in_checkpoint_is_not_executed(tmp_path, reference_run):
    marker = tmp_path / 'executed'
    checkpoint = torch.load(reference_run / 'iter_12.pth', weights_only=True)
    code = f"open({str(marker)!r}, 'w').write('x')\n"
    checkpoint['meta']['cfg'] = code
    checkpoint['meta']['config'] = code  # the key mmengine's resume parses
    tampered = tmp_path / 'iter_12.pth'
    torch.save(checkpoint, tampered)
    runner = train_in_process(TOY_CONFIG, tmp_path / 'w', '--resume',
                              str(tampered))
    assert runner.iter == 12
    assert not marker.exists()


def test_latest_checkpoint(tmp_path):
    assert latest_checkpoint(str(tmp_path)) is None
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/iter_4.pth')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/iter_8.pth')
    with pytest.raises(CheckpointError, match='iter_4.pth'):
        latest_checkpoint(str(tmp_path))
