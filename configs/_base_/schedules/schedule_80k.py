# The 80k-iteration Cityscapes schedule of HRFormer + OCR
# (docs/training_recipe.md).
optimizer = dict(
    type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01)
optim_wrapper = dict(
    # no step on a NaN/inf loss (the train loop then stops, naming it)
    type='FiniteLossOptimWrapper',
    optimizer=optimizer,
    # one parameter group per setting and a fused AdamW update (same result
    # as mmengine's default constructor)
    constructor='GroupedOptimWrapperConstructor',
    # no weight decay on norm parameters, biases and relative position bias tables
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys=dict(relative_position_bias_table=dict(decay_mult=0.0))),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500,
         end=80000),
]
# exact resume and a NaN guard (skip_nonfinite=True skips such steps instead)
train_cfg = dict(
    type='ResumableIterBasedTrainLoop', max_iters=80000, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=8000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # random states and sample stream in the checkpoints, weights-only files
    resume=dict(type='ExactResumeHook'),
    visualization=dict(type='SegVisualizationHook'),
)
