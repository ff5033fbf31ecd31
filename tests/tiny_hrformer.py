"""Settings of a tiny HRFormer with every structural feature of the real
ones (bottlenecks, 2-4 branches, several modules and blocks, multi-head
window attention), shared by the backbone and checkpointing tests."""

TINY = dict(
    stem_channels=16,
    bottleneck_planes=8,
    num_bottlenecks=2,
    num_modules=(1, 2, 1),
    num_blocks=((1, 1), (2, 2, 2), (1, 1, 1, 1)),
    num_channels=((8, 16), (8, 16, 24), (8, 16, 24, 32)),
    num_heads=((1, 2), (1, 2, 3), (1, 2, 3, 4)),
    window_sizes=3,
    mlp_ratios=2)
