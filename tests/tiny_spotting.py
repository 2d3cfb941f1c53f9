"""The tiny spotting ViViT that the spot, viewer and Hub tests save and load."""

#: 16 px input, one spatial and one temporal block, 3 heads like the reference ViViT-Tiny (heads
#: are not in its keys), a 17-class head.
SPOT_KWARGS = {
    "img_size": 16,
    "patch_size": 8,
    "embed_dim": 24,
    "depth": 1,
    "num_heads": 3,
    "temporal_depth": 1,
    "temporal_num_heads": 3,
    "num_classes": 17,
}
