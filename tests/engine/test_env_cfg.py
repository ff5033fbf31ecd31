"""The tools' own ``env_cfg`` key (malloc_mmap_threshold), through
tools/train.py."""
import pytest

import hrformer_seg.utils.malloc as malloc
from hrformer_seg.utils.config_errors import ConfigBuildError
from tests.helpers.engine_runs import TOY_CONFIG, train_in_process


def test_malloc_mmap_threshold_is_applied(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(malloc, 'set_mmap_threshold',
                        lambda n: calls.append(n) or True)
    train_in_process(TOY_CONFIG, tmp_path / 'w', options=[
        'env_cfg.malloc_mmap_threshold=1048576', 'train_cfg.max_iters=1'])
    assert calls == [1048576]


def test_bad_malloc_mmap_threshold_names_the_key(tmp_path):
    with pytest.raises(ConfigBuildError,
                       match='malloc_mmap_threshold(.|\n)*toy_config.py'):
        train_in_process(TOY_CONFIG, tmp_path / 'w', options=[
            'env_cfg.malloc_mmap_threshold=0', 'train_cfg.max_iters=1'])
