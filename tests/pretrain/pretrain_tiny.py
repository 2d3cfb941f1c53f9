"""The tiny models of the pretraining tests (8 frames = 4 tokens, 16 px)."""

VIVIT = {"img_size": 16, "patch_size": 8, "num_frames": 8, "embed_dim": 16, "depth": 2,
         "num_heads": 2, "temporal_depth": 1, "temporal_num_heads": 2, "drop_path_rate": 0.0,
         "temporal_drop_path_rate": 0.0}  # fmt: skip
RESNET = {"width": 2, "depths": [1, 1, 1, 1]}
