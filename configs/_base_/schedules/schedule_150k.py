# The 80k schedule run for 150k iterations (ADE20K, as the released HRFormer models).
_base_ = ['./schedule_80k.py']
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500,
         end=150000),
]
train_cfg = dict(max_iters=150000, val_interval=15000)
default_hooks = dict(checkpoint=dict(interval=15000))
