"""Issue 6, bullet 5: clear errors that name the file or the key.

mmengine 0.10.7 alone: a truncated checkpoint fails with ``OSError: [Errno
22] Invalid argument`` (no file name); a resume with other dataset classes
only logs a warning and trains on; one with another model shape logs size
mismatches and trains on with freshly initialised layers.
"""
import shutil
from pathlib import Path

import pytest

from hrformer_seg.engine import CheckpointError
from hrformer_seg.utils.config_errors import ConfigBuildError
from tests.helpers.engine_runs import TOY_CONFIG, train_in_process


def _copy_run(reference_run: Path, tmp_path: Path) -> Path:
    """A copy of the reference work dir whose last_checkpoint names its own
    iter_12.pth."""
    work_dir = tmp_path / 'copy'
    shutil.copytree(reference_run, work_dir)
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_12.pth'))
    return work_dir


def test_truncated_checkpoint_named_with_previous_one(tmp_path,
                                                      reference_run):
    work_dir = _copy_run(reference_run, tmp_path)
    latest = work_dir / 'iter_12.pth'
    data = latest.read_bytes()
    latest.write_bytes(data[:len(data) // 3])
    with pytest.raises(CheckpointError) as info:
        train_in_process(TOY_CONFIG, work_dir, '--resume')
    message = str(info.value)
    assert str(latest) in message and 'truncated' in message
    assert f'--resume {work_dir / "iter_9.pth"}' in message


def test_last_checkpoint_naming_missing_file(tmp_path, reference_run):
    work_dir = _copy_run(reference_run, tmp_path)
    (work_dir / 'iter_12.pth').unlink()
    with pytest.raises(CheckpointError) as info:
        train_in_process(TOY_CONFIG, work_dir, '--resume')
    assert str(work_dir / 'iter_12.pth') in str(info.value)
    assert str(work_dir / 'iter_9.pth') in str(info.value)


def test_moved_work_dir_still_auto_resumes(tmp_path, reference_run):
    work_dir = tmp_path / 'moved'
    shutil.copytree(reference_run, work_dir)  # last_checkpoint: old path
    (work_dir / 'last_checkpoint').write_text('/gone/away/iter_12.pth')
    runner = train_in_process(TOY_CONFIG, work_dir, '--resume')
    assert runner.iter == 12


def test_resume_with_other_classes_names_them(tmp_path, reference_run):
    with pytest.raises(CheckpointError) as info:
        train_in_process(
            TOY_CONFIG, tmp_path / 'w', '--resume',
            str(reference_run / 'iter_12.pth'),
            options=['train_dataloader.dataset.metainfo.classes='
                     '[road,car,sky,person]'])
    message = str(info.value)
    assert "('road', 'car', 'sky', 'tree')" in message
    assert "('road', 'car', 'sky', 'person')" in message


def test_resume_with_other_model_shape_names_keys(tmp_path, reference_run):
    with pytest.raises(CheckpointError) as info:
        train_in_process(TOY_CONFIG, tmp_path / 'w', '--resume',
                         str(reference_run / 'iter_12.pth'),
                         options=['model.widths=16'])
    message = str(info.value)
    assert ('conv1.weight: checkpoint shape (8, 3, 3, 3), model shape '
            '(16, 3, 3, 3)') in message
    assert 'cls.weight: checkpoint shape (4, 8, 1, 1)' in message


@pytest.mark.parametrize('option, named', [
    ('model.type=ToyEngineSegmentr', 'ToyEngineSegmentr'),
    ('model.drop_prb=0.1', 'drop_prb'),
    # built lazily when training starts
    ('train_cfg.skip_nonfinte=True', 'skip_nonfinte'),
    ('train_dataloader.sampler.type=ResumableSampler', 'ResumableSampler'),
])
def test_config_errors_name_key_and_file(tmp_path, option, named):
    with pytest.raises(ConfigBuildError) as info:
        train_in_process(TOY_CONFIG, tmp_path / 'w', options=[option])
    assert named in str(info.value)
    assert str(TOY_CONFIG) in str(info.value)


def test_stock_components_are_warned_about(tmp_path):
    work_dir = tmp_path / 'w'
    train_in_process(TOY_CONFIG, work_dir, options=[
        'train_cfg.type=IterBasedTrainLoop', 'train_cfg.max_iters=1',
        'default_hooks.checkpoint.type=CheckpointHook'])
    log = ''.join(p.read_text() for p in work_dir.glob('*/*.log'))
    assert 'This config can lose work' in log
    assert "train_cfg.type='ResumableIterBasedTrainLoop'" in log
    assert "default_hooks.checkpoint.type='AtomicCheckpointHook'" in log
