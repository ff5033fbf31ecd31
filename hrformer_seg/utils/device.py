"""Adapting a config to the machine it runs on (CPU without CUDA)."""
from typing import Any, List

import torch
from mmengine.config import Config


def replace_syncbn(node: Any, path: str, changed: List[str]) -> Any:
    """Turns every SyncBN norm config under ``node`` into BN, in place.

    Args:
        node: a config (dict, list or value).
        path: the key path of ``node``, e.g. ``'model'``.
        changed: receives the key paths of the replaced norm configs.

    Returns:
        ``node``.
    """
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN', 'TorchSyncBN'):
            node['type'] = 'BN'
            changed.append(path or '<root>')
        for key, value in node.items():
            replace_syncbn(value, f'{path}.{key}' if path else str(key),
                            changed)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            replace_syncbn(value, f'{path}.{i}', changed)
    return node


def adapt_cfg_to_device(cfg: Config) -> List[str]:
    """Make a GPU config runnable on a machine without CUDA.

    Without CUDA, SyncBN (which only runs on GPUs) becomes plain BN in the
    model and the distributed backend becomes gloo. With CUDA nothing changes.

    Args:
        cfg: the config, modified in place.

    Returns:
        Messages describing what was changed, for the log.
    """
    if torch.cuda.is_available():
        return []
    messages = []
    changed: List[str] = []
    if 'model' in cfg:
        replace_syncbn(cfg.model, 'model', changed)
    if changed:
        messages.append(
            'CUDA is not available: SyncBN replaced by BN in '
            + ', '.join(changed))
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg', {})
    if dist_cfg.get('backend', 'gloo') != 'gloo':
        messages.append(
            f"CUDA is not available: distributed backend "
            f"'{dist_cfg['backend']}' replaced by 'gloo'")
        cfg.env_cfg.dist_cfg.backend = 'gloo'
    return messages
