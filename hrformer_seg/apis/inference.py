"""Load a trained segmentor and run it on images, in three calls.

Example::

    from hrformer_seg.apis import (inference_model, init_model,
                                   show_result_pyplot)
    cfg = 'configs/hrformer/ocrnet_hrformer-s_4x2_512x1024_80k_cityscapes.py'
    model = init_model(cfg, 'work_dirs/ocrnet/iter_80000.pth', device='cpu')
    result = inference_model(model, 'demo.png')      # SegDataSample
    result.pred_sem_seg.data                         # (1, H, W) train IDs
    show_result_pyplot(model, 'demo.png', result, out_file='demo_pred.png')
"""
import copy
import json
import os
import os.path as osp
import warnings
from typing import Callable, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from hrformer_seg.models.utils import fold_batch_norms
from hrformer_seg.registry import DATASETS, MODELS
from hrformer_seg.structures import SegDataSample
from hrformer_seg.utils.checkpoint import (
    extract_state_dict,
    load_checkpoint_file,
)
from hrformer_seg.utils.class_count import resolve_num_classes
from hrformer_seg.utils.device import replace_syncbn
from hrformer_seg.utils.precision import AUTOCAST_DTYPES, resolve_amp
from hrformer_seg.visualization import (
    SegLocalVisualizer,
    cityscapes_metainfo,
    generate_palette,
    write_rgb,
)

ImageType = Union[str, os.PathLike, np.ndarray]
ImagesType = Union[ImageType, Sequence[ImageType]]


#: the files of a model bundle (tools/model_converters/publish_model.py)
BUNDLE_CONFIG = 'config.py'
BUNDLE_WEIGHTS = 'weights.pth'
BUNDLE_CLASSES = 'classes.json'


def resolve_bundle(config: Union[str, os.PathLike, Config],
                   checkpoint: Optional[str] = None
                   ) -> Tuple[Union[str, Config], Optional[str]]:
    """(config, checkpoint) of a model bundle folder; other arguments are
    returned as they are. A bundle's weights are used unless
    ``checkpoint`` names others.

    Raises:
        FileNotFoundError: the folder has no ``config.py``.
    """
    if isinstance(config, (str, os.PathLike)) and osp.isdir(config):
        folder = os.fspath(config)
        path = osp.join(folder, BUNDLE_CONFIG)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{folder} is a folder but not a model bundle: it has no '
                f'{BUNDLE_CONFIG} (made by '
                'tools/model_converters/publish_model.py)')
        weights = osp.join(folder, BUNDLE_WEIGHTS)
        if checkpoint is None and osp.isfile(weights):
            checkpoint = weights
        return path, checkpoint
    return config, checkpoint


def _bundle_classes(config: Union[str, os.PathLike, Config]
                    ) -> Optional[dict]:
    """``classes.json`` next to a bundle's config, if there is one."""
    if not isinstance(config, (str, os.PathLike)):
        return None
    path = osp.join(osp.dirname(os.fspath(config)), BUNDLE_CLASSES)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _load_config(config: Union[str, os.PathLike, Config]) -> Config:
    if isinstance(config, (str, os.PathLike)):
        path = os.fspath(config)
        if not osp.isfile(path):
            raise FileNotFoundError(f'config file not found: {path}')
        return Config.fromfile(path)
    if isinstance(config, Config):
        return copy.deepcopy(config)
    raise TypeError('config must be a file path or a mmengine Config, got '
                    f'{type(config).__name__}')


def drop_pretrained(model_cfg: dict) -> None:
    """No ImageNet weights at build time: the checkpoint brings the weights."""
    if 'pretrained' in model_cfg:
        model_cfg['pretrained'] = None
    for part in ('backbone', 'neck'):
        sub = model_cfg.get(part)
        if isinstance(sub, dict) and sub.get('init_cfg') is not None:
            sub['init_cfg'] = None
    if 'init_cfg' in model_cfg:
        model_cfg['init_cfg'] = None


def config_dataset_meta(cfg: Config, num_classes: int) -> dict:
    """Classes (and palette) of the config's test dataset class, for
    checkpoints without them (converted ones); Cityscapes' when the config
    names no known dataset; 'class 0', ... when the count differs."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    dataset_cls = DATASETS.get(dataset.get('type') or '')
    meta = getattr(dataset_cls, 'METAINFO', None) or {}
    if 'classes' not in meta:
        meta = cityscapes_metainfo()
    if len(meta['classes']) != num_classes:
        meta = dict(classes=[f'class {i}' for i in range(num_classes)])
    classes = list(meta['classes'])
    palette = meta.get('palette') or generate_palette(len(classes))
    return dict(classes=classes, palette=[list(c) for c in palette])


def init_model(config: Union[str, os.PathLike, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               fuse_conv_bn: bool = False,
               amp: Union[bool, str] = False) -> nn.Module:
    """Build a segmentor from a config and load its trained weights.

    The checkpoint is read with ``torch.load(weights_only=True)`` (see
    :mod:`hrformer_seg.utils.checkpoint`); the backbone's ImageNet
    ``init_cfg`` is not loaded. On the CPU, SyncBN becomes BN in the model
    config before the model is built. The model is
    returned in eval mode with ``model.cfg`` (the config) and
    ``model.dataset_meta`` (``classes``/``palette`` from the checkpoint's
    ``meta.dataset_meta``, else those of the config's test dataset).

    Args:
        config: config file, :class:`~mmengine.config.Config` or a model
            bundle folder (``tools/model_converters/publish_model.py``:
            its config, weights and classes).
        checkpoint: ``.pth`` file (training checkpoint or bare state dict);
            None leaves the weights randomly initialised (a bundle's
            weights are loaded).
        device: 'cpu', 'cuda', 'cuda:1', ...
        cfg_options: overrides merged into the config, e.g.
            ``{'model.test_cfg.mode': 'slide'}``.
        fuse_conv_bn: fold the BN layers into the convolutions before them
            (:func:`~hrformer_seg.models.utils.fold_batch_norms`): faster,
            same predictions up to float rounding, inference only.
        amp: :func:`inference_model` runs the model under autocast: True
            (or 'auto') for bfloat16 on a CPU with native bf16 (float32 on
            other CPUs, with a warning) and float16 on CUDA; 'bf16' forces
            bfloat16 (:func:`~hrformer_seg.utils.precision.resolve_amp`).

    Returns:
        The model on ``device``, in eval mode.

    Raises:
        FileNotFoundError: the config or the checkpoint does not exist.
        CheckpointError: the checkpoint is unreadable, unsafe to load or
            holds no weights (:mod:`hrformer_seg.utils.checkpoint`).
        KeyError: the checkpoint lacks weights the model needs.
    """
    config, checkpoint = resolve_bundle(config, checkpoint)
    cfg = _load_config(config)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    resolve_num_classes(cfg, strict=False)  # fills num_classes=None
    if 'model' not in cfg:
        raise KeyError(f'config {getattr(cfg, "filename", "")} has no `model`')
    model_cfg = copy.deepcopy(cfg.model)
    drop_pretrained(model_cfg)
    model_cfg['train_cfg'] = None
    if torch.device(device).type == 'cpu':  # SyncBN only runs on GPUs
        replace_syncbn(model_cfg, 'model', [])
    init_default_scope(cfg.get('default_scope', 'hrformer_seg'))
    model = MODELS.build(model_cfg)
    model.cfg = cfg

    dataset_meta = None
    if checkpoint is not None:
        loaded = load_checkpoint_file(checkpoint, map_location='cpu')
        state_dict = extract_state_dict(loaded, os.fspath(checkpoint))
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
        if missing:
            raise KeyError(
                f'{checkpoint} lacks {len(missing)} weights of the model '
                f'built from the config, e.g. {missing[:5]}; is it a '
                'checkpoint of this config?')
        if unexpected:
            warnings.warn(f'{checkpoint}: {len(unexpected)} unused weights, '
                          f'e.g. {unexpected[:5]}')
        if isinstance(loaded, dict):
            meta = loaded.get('meta') or {}
            dataset_meta = meta.get('dataset_meta')
            if dataset_meta is None and 'CLASSES' in meta:
                dataset_meta = dict(classes=meta['CLASSES'],
                                    palette=meta.get('PALETTE'))
    if not dataset_meta or 'classes' not in dataset_meta:
        dataset_meta = _bundle_classes(config)
    if not dataset_meta or 'classes' not in dataset_meta:
        dataset_meta = config_dataset_meta(cfg, model.num_classes)
    model.dataset_meta = dict(dataset_meta)
    model.to(device)
    model.eval()
    if fuse_conv_bn:
        fold_batch_norms(model)
    precision = resolve_amp('auto' if amp is True else (amp or None),
                            torch.device(device).type)
    model.autocast_dtype = AUTOCAST_DTYPES.get(precision)
    return model


def _test_pipeline(cfg: Config) -> List[dict]:
    """The config's test pipeline without annotation loading."""
    pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        try:
            pipeline = cfg.test_dataloader.dataset.pipeline
        except AttributeError:
            raise KeyError(
                'the config has neither `test_pipeline` nor '
                '`test_dataloader.dataset.pipeline`') from None
    return [copy.deepcopy(dict(step)) for step in pipeline
            if dict(step).get('type') != 'LoadAnnotations']


def _is_loader(step: dict) -> bool:
    return str(step.get('type', '')).startswith('LoadImageFrom')


def image_pipeline(cfg: Config) -> Callable[[ImageType], dict]:
    """The test pipeline for one image: a path (loaded as the test
    pipeline loads files) or a BGR array (the loading step skipped)."""
    steps = _test_pipeline(cfg)
    from_file = Compose(steps)
    from_array = Compose([s for s in steps if not _is_loader(s)])

    def run(image: ImageType) -> dict:
        if isinstance(image, np.ndarray):
            if image.ndim == 2:
                image = np.stack([image] * 3, axis=-1)
            shape = image.shape[:2]
            item = from_array(
                dict(img=image, img_path=None, ori_shape=shape,
                     img_shape=shape))
        else:
            path = os.fspath(image)
            if not osp.isfile(path):
                raise FileNotFoundError(f'image file not found: {path}')
            item = from_file(dict(img_path=path))
        if item is None:
            raise ValueError(f'the test pipeline dropped the image {image!r}')
        return item

    return run


def _prepare(cfg: Config, images: Sequence[ImageType]) -> dict:
    """Run the test pipeline on paths or BGR arrays; collate a batch."""
    run = image_pipeline(cfg)
    return pseudo_collate([run(image) for image in images])


def inference_model(
        model: nn.Module,
        img: ImagesType) -> Union[SegDataSample, List[SegDataSample]]:
    """Segment one image or a list of images.

    The images go through the config's test pipeline (``test_pipeline``, or
    that of ``test_dataloader``) without ``LoadAnnotations``; arrays skip the
    loading step.

    Args:
        model: a model from :func:`init_model` (it needs ``model.cfg``).
        img: a file path or an (H, W, 3) uint8 array in **BGR** order (as
            ``cv2.imread`` returns it, the order the pipeline loads files
            in), or a list of them.

    Returns:
        One :class:`SegDataSample` per image (a single one for a single
        input) with ``pred_sem_seg`` (1, H, W) and ``seg_logits`` (K, H, W)
        at the original image size.
    """
    single = not isinstance(img, (list, tuple))
    images = [img] if single else list(img)
    if not images:
        return []
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise AttributeError('model.cfg is missing: build the model with '
                             'hrformer_seg.apis.init_model')
    init_default_scope(cfg.get('default_scope', 'hrformer_seg'))
    results = test_step(model, _prepare(cfg, images))
    return results[0] if single else results


def test_step(model: nn.Module, data: dict) -> List[SegDataSample]:
    """``model.test_step`` without gradients, under the model's autocast
    (``model.autocast_dtype``, set by :func:`init_model`)."""
    dtype = getattr(model, 'autocast_dtype', None)
    device_type = next(model.parameters()).device.type
    with torch.no_grad(), torch.autocast(device_type, dtype=dtype,
                                         enabled=dtype is not None):
        return model.test_step(data)


def read_rgb(img: ImageType) -> np.ndarray:
    """An image as RGB: a path, or a BGR array as the pipeline takes it."""
    if isinstance(img, np.ndarray):
        return np.ascontiguousarray(img[..., ::-1]) if img.ndim == 3 else img
    path = os.fspath(img)
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file not found: {path}')
    image = mmcv.imread(path, channel_order='rgb')
    if image is None:
        raise OSError(f'could not decode the image {path}')
    return image


def model_visualizer(model: nn.Module, opacity: float,
                     name: str) -> SegLocalVisualizer:
    """A visualiser with the model's classes and colours."""
    # built directly (not get_instance): no global visualiser is replaced
    visualizer = SegLocalVisualizer(name=name, alpha=opacity)
    meta = getattr(model, 'dataset_meta', None) or cityscapes_metainfo()
    visualizer.set_dataset_meta(meta['classes'], meta.get('palette'))
    return visualizer


def show_result_pyplot(model: nn.Module,
                       img: ImageType,
                       result: SegDataSample,
                       opacity: float = 0.5,
                       title: str = 'result',
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       with_labels: bool = True) -> np.ndarray:
    """Draw a result over its image (and its ground truth, if it has one).

    Args:
        model: the model (its ``dataset_meta`` names and colours classes).
        img: the image given to :func:`inference_model` (path or BGR array).
        result: the :class:`SegDataSample` it returned.
        opacity: opacity of the class colours, in [0, 1].
        title: window title / image name.
        draw_gt: draw ``result.gt_sem_seg`` when present.
        draw_pred: draw the prediction.
        show: open a window.
        wait_time: seconds the window stays (0: until a key is pressed).
        out_file: write the picture (PNG/JPEG) here.
        with_labels: captions and a legend of the classes present.

    Returns:
        The picture, (H', W', 3) RGB uint8.
    """
    image = read_rgb(img)
    visualizer = model_visualizer(model, opacity, 'show_result')
    drawn = visualizer.compose(image, result, draw_gt, draw_pred, with_labels)
    if show:
        visualizer.show(drawn, win_name=title, wait_time=wait_time)
    if out_file is not None:
        write_rgb(out_file, drawn)
    return drawn


__all__ = ['init_model', 'inference_model', 'show_result_pyplot']
