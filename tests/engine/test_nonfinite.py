"""Issue 6, bullet 4: a NaN loss never reaches the weights or a checkpoint.

The toy model's ``loss_ce`` (or the input of its BN layer) becomes NaN at
iteration index 4 (the 5th iteration). mmengine 0.10.7 alone trains on with
NaN weights and writes them into every later checkpoint.
"""
import pytest
import torch

from hrformer_seg.engine import NonFiniteLossError
from tests.helpers.engine_runs import TOY_CONFIG, train_in_process


def _finite(state: dict) -> bool:
    return all(bool(torch.isfinite(v.float()).all()) for v in state.values())


def test_nonfinite_loss_stops_with_iteration_and_terms(tmp_path):
    work_dir = tmp_path / 'work'
    with pytest.raises(NonFiniteLossError) as info:
        train_in_process(TOY_CONFIG, work_dir,
                         options=['model.nan_at_iter=4'])
    message = str(info.value)
    assert 'iteration 5/12' in message
    assert 'loss_ce=nan' in message and 'loss_aux=' in message
    assert 'train_cfg.skip_nonfinite=True' in message
    assert str(work_dir / 'iter_3.pth') in message

    # iteration 3's checkpoint is the last one; nothing from the NaN step
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_3.pth']
    assert (work_dir / 'last_checkpoint').read_text().endswith('iter_3.pth')
    assert _finite(torch.load(work_dir / 'iter_3.pth',
                              weights_only=True)['state_dict'])


def test_nonfinite_loss_skipped_when_asked(tmp_path):
    """NaN features: BN's running statistics must be restored too."""
    work_dir = tmp_path / 'work'
    runner = train_in_process(
        TOY_CONFIG, work_dir,
        options=['model.nan_at_iter=4', 'model.nan_in=features',
                 'train_cfg.skip_nonfinite=True'])
    assert runner.iter == 12
    assert runner.message_hub.get_info('nonfinite_skipped') == 1
    final = torch.load(work_dir / 'iter_12.pth', weights_only=True)
    assert _finite(final['state_dict'])  # running_mean/var included
    # 11 batches of 2 counted by BN: the NaN one was taken back
    assert final['state_dict']['bn.num_batches_tracked'].item() == 11
    # the skipped step did not reach AdamW: 11 updates for 12 iterations
    steps = {float(s['step']) for s in final['optimizer']['state'].values()}
    assert steps == {11.0}
    log = ''.join(p.read_text() for p in work_dir.glob('*/*.log'))
    assert 'Skipped the step at iteration 5/12' in log
    assert '1 step(s) skipped so far' in log
