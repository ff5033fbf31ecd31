"""What the tools share: loading a config; for train.py and test.py, building a runner."""
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.runner import Runner

from hrformer_seg.registry import RUNNERS
from hrformer_seg.utils.config_errors import config_error_context
from hrformer_seg.utils.device import adapt_cfg_to_device


def load_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """Loads ``config`` and applies ``--cfg-options`` (the tools' common start).

    Raises:
        FileNotFoundError: naming ``config`` when it does not exist.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_tool_config(config: str,
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None,
                     launcher: str = 'none') -> Config:
    """Loads ``config``, applies ``--cfg-options`` and sets the work dir.

    The work dir defaults to ``./work_dirs/<config name>`` as in MMSegmentation.

    Raises:
        FileNotFoundError: naming ``config`` when it does not exist.
    """
    cfg = load_config(config)
    cfg.launcher = launcher  # before the overrides, as in MMSegmentation
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


def build_runner(cfg: Config, config_path: str) -> Runner:
    """Adapts ``cfg`` to the machine and builds its runner.

    Without CUDA, SyncBN becomes BN and the backend gloo (logged once the
    runner's logger exists). Build errors name ``config_path``.
    """
    device_messages = adapt_cfg_to_device(cfg)
    with config_error_context(config_path):
        if 'runner_type' in cfg:
            runner = RUNNERS.build(cfg)
        else:
            runner = Runner.from_cfg(cfg)
    for message in device_messages:
        runner.logger.warning(message)
    return runner
