# A tiny training config for the engine tests: the toy segmentor and dataset
# of tests/helpers/toy_engine.py (the repository root must be on the import
# path: pytest's `pythonpath = .`, PYTHONPATH in subprocesses), with the
# engine components of configs/_base_/default_runtime.py.
custom_imports = dict(imports=['tests.helpers.toy_engine'],
                      allow_failed_imports=False)
default_scope = 'hrformer_seg'
model = dict(type='ToyEngineSegmentor', drop_prob=0.3)
train_pipeline = [
    dict(type='ToyEngineLoad', size=8, log_file=None),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ToyEngineJitter'),
    dict(type='ToyEnginePack'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type='ToyEngineDataset', num_samples=10, pipeline=train_pipeline))
optim_wrapper = dict(
    type='FiniteLossOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=5,
         end=12),
]
train_cfg = dict(
    type='ResumableIterBasedTrainLoop', max_iters=12, val_interval=1000)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=3,
        max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    resume=dict(type='ExactResumeHook'))
log_processor = dict(by_epoch=False)
env_cfg = dict(
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=True)
load_from = None
resume = False
