"""tools/train.py then tools/test.py end to end on a tiny generated dataset."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
DEMO_CFG = (ROOT / 'configs' / 'hrformer' /
            'ocrnet_hrformer-s_demo_cityscapes-like.py')


def run(args, cwd, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f'{args} failed\nstdout:\n{proc.stdout[-4000:]}\n'
        f'stderr:\n{proc.stderr[-4000:]}')
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny_cityscapes_like')
    run([ROOT / 'tools/dataset_converters/generate_cityscapes_like.py', root,
         '--train', 4, '--val', 2, '--height', 64, '--width', 128,
         '--seed', 1], cwd=root)
    run([ROOT / 'tools/dataset_converters/cityscapes.py', root, '--nproc', 1],
        cwd=root)
    return root


def tiny_options(data_root):
    return [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.persistent_workers=False',
        'model.data_preprocessor.size=[64,128]',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
    ]


def _miou(output: str) -> float:
    found = re.findall(r'mIoU: ([0-9.]+)', output)
    assert found, output[-2000:]
    return float(found[-1])


@pytest.mark.slow
def test_train_then_test(dataset, tmp_path):
    work_dir = tmp_path / 'work'
    out = run([ROOT / 'tools/train.py', DEMO_CFG, '--work-dir', work_dir,
               *tiny_options(dataset)], cwd=tmp_path)
    ckpt = work_dir / 'iter_2.pth'
    assert ckpt.is_file()
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith(
        'iter_2.pth')
    assert 'mIoU' in out

    out = run([ROOT / 'tools/test.py', DEMO_CFG, ckpt, '--work-dir',
               tmp_path / 'test', *tiny_options(dataset)], cwd=tmp_path)
    assert 'mIoU' in out and 'road' in out

    # BN folded into the convolutions: the same metrics
    fused = run([ROOT / 'tools/test.py', DEMO_CFG, ckpt, '--fuse-conv-bn',
                 '--work-dir', tmp_path / 'test_fused',
                 *tiny_options(dataset)], cwd=tmp_path)
    assert 'folded' in fused and 'BN layers into convolutions' in fused
    assert abs(_miou(fused) - _miou(out)) < 0.05, (_miou(fused), _miou(out))

    show_dir = tmp_path / 'vis'
    out = run([ROOT / 'tools/test.py', DEMO_CFG, ckpt, '--tta', '--work-dir',
               tmp_path / 'test_tta', '--show-dir', show_dir,
               *tiny_options(dataset)], cwd=tmp_path)
    assert 'mIoU' in out
    pictures = list(show_dir.rglob('*.png'))
    assert len(pictures) == 2, pictures


def test_train_names_config_on_misspelt_key(dataset, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools/train.py'), str(DEMO_CFG),
         '--work-dir', str(tmp_path / 'w'), *tiny_options(dataset)[:1],
         'model.backbone.drop_path_rat=0.1'],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'drop_path_rat' in proc.stderr
    assert str(DEMO_CFG) in proc.stderr


@pytest.mark.slow
def test_train_and_test_with_bf16_autocast(dataset, tmp_path):
    """--amp bf16 (forced, so on any CPU): training through
    BF16AmpOptimWrapper, then --amp --tta testing under autocast."""
    work_dir = tmp_path / 'work'
    out = run([ROOT / 'tools/train.py', DEMO_CFG, '--work-dir', work_dir,
               '--amp', 'bf16', *tiny_options(dataset)], cwd=tmp_path)
    assert '--amp: training in bf16 on cpu' in out
    assert 'mIoU' in out
    ckpt = work_dir / 'iter_2.pth'
    saved = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert all(v.dtype == torch.float32 for v in saved['state_dict'].values()
               if v.is_floating_point())  # float32 master weights
    out = run([ROOT / 'tools/test.py', DEMO_CFG, ckpt, '--amp', 'bf16',
               '--tta', '--work-dir', tmp_path / 'test',
               *tiny_options(dataset)], cwd=tmp_path)
    assert '--amp: testing in bf16 on cpu' in out and 'mIoU' in out


def test_amp_fp16_on_a_cpu_is_refused(tmp_path):
    if torch.cuda.is_available():
        pytest.skip('CUDA present: fp16 is allowed')
    proc = subprocess.run(
        [sys.executable, ROOT / 'tools/train.py', DEMO_CFG, '--amp', 'fp16',
         '--work-dir', tmp_path], cwd=tmp_path, capture_output=True,
        text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert proc.returncode != 0
    assert '--amp fp16 needs CUDA; on a CPU use --amp bf16' in proc.stderr
