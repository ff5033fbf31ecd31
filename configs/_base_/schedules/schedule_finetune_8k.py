# Fine-tuning on a small dataset (docs/own_data.md): 8k iterations, a short
# warm-up, AdamW at 1e-4 for the heads and a tenth of that for the backbone,
# which starts from ImageNet or Cityscapes weights. Validation, a checkpoint
# (the last two kept) and the best mIoU so far every 1000 iterations.
_base_ = ['./schedule_80k.py']
max_iters = 8000
optim_wrapper = dict(
    paramwise_cfg=dict(
        # on top of the norm/bias/bias-table rules of the 80k schedule
        module_lr_mult=dict(backbone=0.1)))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=200),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=200,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=1000)
default_hooks = dict(
    checkpoint=dict(interval=1000, max_keep_ckpts=2, save_best='mIoU'))
