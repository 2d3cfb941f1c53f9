"""Key/shape tables of the reference checkpoints, transcribed from checkpoints.md.

Usage:
    expected = expand_table(VIVIT)   # {key: (shape, is_buffer, dtype)}

One row a line: ``key shape [buffer] [int64]``; ``{0..11}`` and ``{1,3,5}`` expand as in the
document (§2.1 ViViT-Tiny, §3 ViSwin-Tiny, §4.1 ViT-Tiny, §6 ResNet3D-50, §2.3/§4.2/§5 extras).
"""

from __future__ import annotations

import itertools
import re

import torch

VIVIT = """
spatial_cls_token (1,1,192)
temporal_mask_token (1,1,192)
pos_embed (1,197,192)
time_embed (1,64,192)
patch_embed.proj.weight (192,3,2,16,16)
patch_embed.proj.bias (192,)
spatial_transformer.blocks.{0..11}.norm1.weight (192,)
spatial_transformer.blocks.{0..11}.norm1.bias (192,)
spatial_transformer.blocks.{0..11}.attn.qkv.weight (576,192)
spatial_transformer.blocks.{0..11}.attn.qkv.bias (576,)
spatial_transformer.blocks.{0..11}.attn.proj.weight (192,192)
spatial_transformer.blocks.{0..11}.attn.proj.bias (192,)
spatial_transformer.blocks.{0..11}.norm2.weight (192,)
spatial_transformer.blocks.{0..11}.norm2.bias (192,)
spatial_transformer.blocks.{0..11}.mlp.fc1.weight (768,192)
spatial_transformer.blocks.{0..11}.mlp.fc1.bias (768,)
spatial_transformer.blocks.{0..11}.mlp.fc2.weight (192,768)
spatial_transformer.blocks.{0..11}.mlp.fc2.bias (192,)
spatial_transformer.norm.weight (192,)
spatial_transformer.norm.bias (192,)
temporal_transformer.blocks.{0..5}.norm1.weight (192,)
temporal_transformer.blocks.{0..5}.norm1.bias (192,)
temporal_transformer.blocks.{0..5}.attn.qkv.weight (576,192)
temporal_transformer.blocks.{0..5}.attn.qkv.bias (576,)
temporal_transformer.blocks.{0..5}.attn.proj.weight (192,192)
temporal_transformer.blocks.{0..5}.attn.proj.bias (192,)
temporal_transformer.blocks.{0..5}.norm2.weight (192,)
temporal_transformer.blocks.{0..5}.norm2.bias (192,)
temporal_transformer.blocks.{0..5}.mlp.fc1.weight (768,192)
temporal_transformer.blocks.{0..5}.mlp.fc1.bias (768,)
temporal_transformer.blocks.{0..5}.mlp.fc2.weight (192,768)
temporal_transformer.blocks.{0..5}.mlp.fc2.bias (192,)
temporal_transformer.norm.weight (192,)
temporal_transformer.norm.bias (192,)
"""

VISWIN = """
temporal_mask_token (1,1,768)
time_embed (1,64,768)
patch_embed.proj.weight (96,3,2,4,4)
patch_embed.proj.bias (96,)
patch_embed.norm.weight (96,)
patch_embed.norm.bias (96,)
spatial_transformer.layers.0.blocks.{0..1}.norm1.weight (96,)
spatial_transformer.layers.0.blocks.{0..1}.norm1.bias (96,)
spatial_transformer.layers.0.blocks.{0..1}.attn.relative_position_bias_table (169,3)
spatial_transformer.layers.0.blocks.{0..1}.attn.relative_position_index (49,49) buffer int64
spatial_transformer.layers.0.blocks.{0..1}.attn.qkv.weight (288,96)
spatial_transformer.layers.0.blocks.{0..1}.attn.qkv.bias (288,)
spatial_transformer.layers.0.blocks.{0..1}.attn.proj.weight (96,96)
spatial_transformer.layers.0.blocks.{0..1}.attn.proj.bias (96,)
spatial_transformer.layers.0.blocks.{0..1}.norm2.weight (96,)
spatial_transformer.layers.0.blocks.{0..1}.norm2.bias (96,)
spatial_transformer.layers.0.blocks.{0..1}.mlp.fc1.weight (384,96)
spatial_transformer.layers.0.blocks.{0..1}.mlp.fc1.bias (384,)
spatial_transformer.layers.0.blocks.{0..1}.mlp.fc2.weight (96,384)
spatial_transformer.layers.0.blocks.{0..1}.mlp.fc2.bias (96,)
spatial_transformer.layers.0.blocks.1.attn_mask (64,49,49) buffer
spatial_transformer.layers.0.downsample.norm.weight (384,)
spatial_transformer.layers.0.downsample.norm.bias (384,)
spatial_transformer.layers.0.downsample.reduction.weight (192,384)
spatial_transformer.layers.1.blocks.{0..1}.norm1.weight (192,)
spatial_transformer.layers.1.blocks.{0..1}.norm1.bias (192,)
spatial_transformer.layers.1.blocks.{0..1}.attn.relative_position_bias_table (169,6)
spatial_transformer.layers.1.blocks.{0..1}.attn.relative_position_index (49,49) buffer int64
spatial_transformer.layers.1.blocks.{0..1}.attn.qkv.weight (576,192)
spatial_transformer.layers.1.blocks.{0..1}.attn.qkv.bias (576,)
spatial_transformer.layers.1.blocks.{0..1}.attn.proj.weight (192,192)
spatial_transformer.layers.1.blocks.{0..1}.attn.proj.bias (192,)
spatial_transformer.layers.1.blocks.{0..1}.norm2.weight (192,)
spatial_transformer.layers.1.blocks.{0..1}.norm2.bias (192,)
spatial_transformer.layers.1.blocks.{0..1}.mlp.fc1.weight (768,192)
spatial_transformer.layers.1.blocks.{0..1}.mlp.fc1.bias (768,)
spatial_transformer.layers.1.blocks.{0..1}.mlp.fc2.weight (192,768)
spatial_transformer.layers.1.blocks.{0..1}.mlp.fc2.bias (192,)
spatial_transformer.layers.1.blocks.1.attn_mask (16,49,49) buffer
spatial_transformer.layers.1.downsample.norm.weight (768,)
spatial_transformer.layers.1.downsample.norm.bias (768,)
spatial_transformer.layers.1.downsample.reduction.weight (384,768)
spatial_transformer.layers.2.blocks.{0..5}.norm1.weight (384,)
spatial_transformer.layers.2.blocks.{0..5}.norm1.bias (384,)
spatial_transformer.layers.2.blocks.{0..5}.attn.relative_position_bias_table (169,12)
spatial_transformer.layers.2.blocks.{0..5}.attn.relative_position_index (49,49) buffer int64
spatial_transformer.layers.2.blocks.{0..5}.attn.qkv.weight (1152,384)
spatial_transformer.layers.2.blocks.{0..5}.attn.qkv.bias (1152,)
spatial_transformer.layers.2.blocks.{0..5}.attn.proj.weight (384,384)
spatial_transformer.layers.2.blocks.{0..5}.attn.proj.bias (384,)
spatial_transformer.layers.2.blocks.{0..5}.norm2.weight (384,)
spatial_transformer.layers.2.blocks.{0..5}.norm2.bias (384,)
spatial_transformer.layers.2.blocks.{0..5}.mlp.fc1.weight (1536,384)
spatial_transformer.layers.2.blocks.{0..5}.mlp.fc1.bias (1536,)
spatial_transformer.layers.2.blocks.{0..5}.mlp.fc2.weight (384,1536)
spatial_transformer.layers.2.blocks.{0..5}.mlp.fc2.bias (384,)
spatial_transformer.layers.2.blocks.{1,3,5}.attn_mask (4,49,49) buffer
spatial_transformer.layers.2.downsample.norm.weight (1536,)
spatial_transformer.layers.2.downsample.norm.bias (1536,)
spatial_transformer.layers.2.downsample.reduction.weight (768,1536)
spatial_transformer.layers.3.blocks.{0..1}.norm1.weight (768,)
spatial_transformer.layers.3.blocks.{0..1}.norm1.bias (768,)
spatial_transformer.layers.3.blocks.{0..1}.attn.relative_position_bias_table (169,24)
spatial_transformer.layers.3.blocks.{0..1}.attn.relative_position_index (49,49) buffer int64
spatial_transformer.layers.3.blocks.{0..1}.attn.qkv.weight (2304,768)
spatial_transformer.layers.3.blocks.{0..1}.attn.qkv.bias (2304,)
spatial_transformer.layers.3.blocks.{0..1}.attn.proj.weight (768,768)
spatial_transformer.layers.3.blocks.{0..1}.attn.proj.bias (768,)
spatial_transformer.layers.3.blocks.{0..1}.norm2.weight (768,)
spatial_transformer.layers.3.blocks.{0..1}.norm2.bias (768,)
spatial_transformer.layers.3.blocks.{0..1}.mlp.fc1.weight (3072,768)
spatial_transformer.layers.3.blocks.{0..1}.mlp.fc1.bias (3072,)
spatial_transformer.layers.3.blocks.{0..1}.mlp.fc2.weight (768,3072)
spatial_transformer.layers.3.blocks.{0..1}.mlp.fc2.bias (768,)
spatial_transformer.norm.weight (768,)
spatial_transformer.norm.bias (768,)
temporal_transformer.blocks.{0..3}.norm1.weight (768,)
temporal_transformer.blocks.{0..3}.norm1.bias (768,)
temporal_transformer.blocks.{0..3}.attn.qkv.weight (2304,768)
temporal_transformer.blocks.{0..3}.attn.qkv.bias (2304,)
temporal_transformer.blocks.{0..3}.attn.proj.weight (768,768)
temporal_transformer.blocks.{0..3}.attn.proj.bias (768,)
temporal_transformer.blocks.{0..3}.norm2.weight (768,)
temporal_transformer.blocks.{0..3}.norm2.bias (768,)
temporal_transformer.blocks.{0..3}.mlp.fc1.weight (3072,768)
temporal_transformer.blocks.{0..3}.mlp.fc1.bias (3072,)
temporal_transformer.blocks.{0..3}.mlp.fc2.weight (768,3072)
temporal_transformer.blocks.{0..3}.mlp.fc2.bias (768,)
temporal_transformer.norm.weight (768,)
temporal_transformer.norm.bias (768,)
"""

VIT = """
cls_token (1,1,192)
pos_embed (1,197,192)
patch_embed.proj.weight (192,3,2,16,16)
patch_embed.proj.bias (192,)
blocks.{0..11}.norm1.weight (192,)
blocks.{0..11}.norm1.bias (192,)
blocks.{0..11}.attn.qkv.weight (576,192)
blocks.{0..11}.attn.qkv.bias (576,)
blocks.{0..11}.attn.proj.weight (192,192)
blocks.{0..11}.attn.proj.bias (192,)
blocks.{0..11}.norm2.weight (192,)
blocks.{0..11}.norm2.bias (192,)
blocks.{0..11}.mlp.fc1.weight (768,192)
blocks.{0..11}.mlp.fc1.bias (768,)
blocks.{0..11}.mlp.fc2.weight (192,768)
blocks.{0..11}.mlp.fc2.bias (192,)
norm.weight (192,)
norm.bias (192,)
"""

RESNET3D = """
blocks.0.conv.weight (64,3,1,7,7)
blocks.0.norm.weight (64,)
blocks.0.norm.bias (64,)
blocks.0.norm.running_mean (64,) buffer
blocks.0.norm.running_var (64,) buffer
blocks.0.norm.num_batches_tracked () buffer int64
blocks.1.res_blocks.0.branch1_conv.weight (256,64,1,1,1)
blocks.1.res_blocks.0.branch1_norm.weight (256,)
blocks.1.res_blocks.0.branch1_norm.bias (256,)
blocks.1.res_blocks.0.branch1_norm.running_mean (256,) buffer
blocks.1.res_blocks.0.branch1_norm.running_var (256,) buffer
blocks.1.res_blocks.0.branch1_norm.num_batches_tracked () buffer int64
blocks.1.res_blocks.0.branch2.conv_a.weight (64,64,1,1,1)
blocks.1.res_blocks.{0..2}.branch2.norm_a.weight (64,)
blocks.1.res_blocks.{0..2}.branch2.norm_a.bias (64,)
blocks.1.res_blocks.{0..2}.branch2.norm_a.running_mean (64,) buffer
blocks.1.res_blocks.{0..2}.branch2.norm_a.running_var (64,) buffer
blocks.1.res_blocks.{0..2}.branch2.norm_a.num_batches_tracked () buffer int64
blocks.1.res_blocks.{0..2}.branch2.conv_b.weight (64,64,1,3,3)
blocks.1.res_blocks.{0..2}.branch2.norm_b.weight (64,)
blocks.1.res_blocks.{0..2}.branch2.norm_b.bias (64,)
blocks.1.res_blocks.{0..2}.branch2.norm_b.running_mean (64,) buffer
blocks.1.res_blocks.{0..2}.branch2.norm_b.running_var (64,) buffer
blocks.1.res_blocks.{0..2}.branch2.norm_b.num_batches_tracked () buffer int64
blocks.1.res_blocks.{0..2}.branch2.conv_c.weight (256,64,1,1,1)
blocks.1.res_blocks.{0..2}.branch2.norm_c.weight (256,)
blocks.1.res_blocks.{0..2}.branch2.norm_c.bias (256,)
blocks.1.res_blocks.{0..2}.branch2.norm_c.running_mean (256,) buffer
blocks.1.res_blocks.{0..2}.branch2.norm_c.running_var (256,) buffer
blocks.1.res_blocks.{0..2}.branch2.norm_c.num_batches_tracked () buffer int64
blocks.1.res_blocks.{1..2}.branch2.conv_a.weight (64,256,1,1,1)
blocks.2.res_blocks.0.branch1_conv.weight (512,256,1,1,1)
blocks.2.res_blocks.0.branch1_norm.weight (512,)
blocks.2.res_blocks.0.branch1_norm.bias (512,)
blocks.2.res_blocks.0.branch1_norm.running_mean (512,) buffer
blocks.2.res_blocks.0.branch1_norm.running_var (512,) buffer
blocks.2.res_blocks.0.branch1_norm.num_batches_tracked () buffer int64
blocks.2.res_blocks.0.branch2.conv_a.weight (128,256,1,1,1)
blocks.2.res_blocks.{0..3}.branch2.norm_a.weight (128,)
blocks.2.res_blocks.{0..3}.branch2.norm_a.bias (128,)
blocks.2.res_blocks.{0..3}.branch2.norm_a.running_mean (128,) buffer
blocks.2.res_blocks.{0..3}.branch2.norm_a.running_var (128,) buffer
blocks.2.res_blocks.{0..3}.branch2.norm_a.num_batches_tracked () buffer int64
blocks.2.res_blocks.{0..3}.branch2.conv_b.weight (128,128,1,3,3)
blocks.2.res_blocks.{0..3}.branch2.norm_b.weight (128,)
blocks.2.res_blocks.{0..3}.branch2.norm_b.bias (128,)
blocks.2.res_blocks.{0..3}.branch2.norm_b.running_mean (128,) buffer
blocks.2.res_blocks.{0..3}.branch2.norm_b.running_var (128,) buffer
blocks.2.res_blocks.{0..3}.branch2.norm_b.num_batches_tracked () buffer int64
blocks.2.res_blocks.{0..3}.branch2.conv_c.weight (512,128,1,1,1)
blocks.2.res_blocks.{0..3}.branch2.norm_c.weight (512,)
blocks.2.res_blocks.{0..3}.branch2.norm_c.bias (512,)
blocks.2.res_blocks.{0..3}.branch2.norm_c.running_mean (512,) buffer
blocks.2.res_blocks.{0..3}.branch2.norm_c.running_var (512,) buffer
blocks.2.res_blocks.{0..3}.branch2.norm_c.num_batches_tracked () buffer int64
blocks.2.res_blocks.{1..3}.branch2.conv_a.weight (128,512,1,1,1)
blocks.3.res_blocks.0.branch1_conv.weight (1024,512,1,1,1)
blocks.3.res_blocks.0.branch1_norm.weight (1024,)
blocks.3.res_blocks.0.branch1_norm.bias (1024,)
blocks.3.res_blocks.0.branch1_norm.running_mean (1024,) buffer
blocks.3.res_blocks.0.branch1_norm.running_var (1024,) buffer
blocks.3.res_blocks.0.branch1_norm.num_batches_tracked () buffer int64
blocks.3.res_blocks.0.branch2.conv_a.weight (256,512,3,1,1)
blocks.3.res_blocks.{0..5}.branch2.norm_a.weight (256,)
blocks.3.res_blocks.{0..5}.branch2.norm_a.bias (256,)
blocks.3.res_blocks.{0..5}.branch2.norm_a.running_mean (256,) buffer
blocks.3.res_blocks.{0..5}.branch2.norm_a.running_var (256,) buffer
blocks.3.res_blocks.{0..5}.branch2.norm_a.num_batches_tracked () buffer int64
blocks.3.res_blocks.{0..5}.branch2.conv_b.weight (256,256,1,3,3)
blocks.3.res_blocks.{0..5}.branch2.norm_b.weight (256,)
blocks.3.res_blocks.{0..5}.branch2.norm_b.bias (256,)
blocks.3.res_blocks.{0..5}.branch2.norm_b.running_mean (256,) buffer
blocks.3.res_blocks.{0..5}.branch2.norm_b.running_var (256,) buffer
blocks.3.res_blocks.{0..5}.branch2.norm_b.num_batches_tracked () buffer int64
blocks.3.res_blocks.{0..5}.branch2.conv_c.weight (1024,256,1,1,1)
blocks.3.res_blocks.{0..5}.branch2.norm_c.weight (1024,)
blocks.3.res_blocks.{0..5}.branch2.norm_c.bias (1024,)
blocks.3.res_blocks.{0..5}.branch2.norm_c.running_mean (1024,) buffer
blocks.3.res_blocks.{0..5}.branch2.norm_c.running_var (1024,) buffer
blocks.3.res_blocks.{0..5}.branch2.norm_c.num_batches_tracked () buffer int64
blocks.3.res_blocks.{1..5}.branch2.conv_a.weight (256,1024,3,1,1)
blocks.4.res_blocks.0.branch1_conv.weight (2048,1024,1,1,1)
blocks.4.res_blocks.0.branch1_norm.weight (2048,)
blocks.4.res_blocks.0.branch1_norm.bias (2048,)
blocks.4.res_blocks.0.branch1_norm.running_mean (2048,) buffer
blocks.4.res_blocks.0.branch1_norm.running_var (2048,) buffer
blocks.4.res_blocks.0.branch1_norm.num_batches_tracked () buffer int64
blocks.4.res_blocks.0.branch2.conv_a.weight (512,1024,3,1,1)
blocks.4.res_blocks.{0..2}.branch2.norm_a.weight (512,)
blocks.4.res_blocks.{0..2}.branch2.norm_a.bias (512,)
blocks.4.res_blocks.{0..2}.branch2.norm_a.running_mean (512,) buffer
blocks.4.res_blocks.{0..2}.branch2.norm_a.running_var (512,) buffer
blocks.4.res_blocks.{0..2}.branch2.norm_a.num_batches_tracked () buffer int64
blocks.4.res_blocks.{0..2}.branch2.conv_b.weight (512,512,1,3,3)
blocks.4.res_blocks.{0..2}.branch2.norm_b.weight (512,)
blocks.4.res_blocks.{0..2}.branch2.norm_b.bias (512,)
blocks.4.res_blocks.{0..2}.branch2.norm_b.running_mean (512,) buffer
blocks.4.res_blocks.{0..2}.branch2.norm_b.running_var (512,) buffer
blocks.4.res_blocks.{0..2}.branch2.norm_b.num_batches_tracked () buffer int64
blocks.4.res_blocks.{0..2}.branch2.conv_c.weight (2048,512,1,1,1)
blocks.4.res_blocks.{0..2}.branch2.norm_c.weight (2048,)
blocks.4.res_blocks.{0..2}.branch2.norm_c.bias (2048,)
blocks.4.res_blocks.{0..2}.branch2.norm_c.running_mean (2048,) buffer
blocks.4.res_blocks.{0..2}.branch2.norm_c.running_var (2048,) buffer
blocks.4.res_blocks.{0..2}.branch2.norm_c.num_batches_tracked () buffer int64
blocks.4.res_blocks.{1..2}.branch2.conv_a.weight (512,2048,3,1,1)
"""

STEP1_EXTRAS = """
queue (256,65536) buffer
queue_ptr (1,) buffer int64
projector.layers.0.weight (1024,192)
projector.layers.0.bias (1024,)
projector.layers.2.weight (1024,1024)
projector.layers.2.bias (1024,)
projector.layers.4.weight (256,1024)
projector.layers.4.bias (256,)
predictor.layers.0.weight (1024,256)
predictor.layers.0.bias (1024,)
predictor.layers.2.weight (256,1024)
train_transform.transforms.0.transforms.1.brightness (2,) buffer
train_transform.transforms.0.transforms.1.contrast (2,) buffer
train_transform.transforms.0.transforms.1.saturation (2,) buffer
train_transform.transforms.0.transforms.1.hue (2,) buffer
train_transform.transforms.0.transforms.3.sigma (2,) buffer
train_transform.transforms.0.transforms.5.mean (3,1,1) buffer
train_transform.transforms.0.transforms.5.std (3,1,1) buffer
train_transform.transforms.1.transforms.1.brightness (2,) buffer
train_transform.transforms.1.transforms.1.contrast (2,) buffer
train_transform.transforms.1.transforms.1.saturation (2,) buffer
train_transform.transforms.1.transforms.1.hue (2,) buffer
train_transform.transforms.1.transforms.3.sigma (2,) buffer
train_transform.transforms.1.transforms.4.threshold () buffer
train_transform.transforms.1.transforms.6.mean (3,1,1) buffer
train_transform.transforms.1.transforms.6.std (3,1,1) buffer
momentum_projector.layers.0.weight (1024,192)
momentum_projector.layers.0.bias (1024,)
momentum_projector.layers.2.weight (1024,1024)
momentum_projector.layers.2.bias (1024,)
momentum_projector.layers.4.weight (256,1024)
momentum_projector.layers.4.bias (256,)
"""

STEP2_EXTRAS = """
queue (512,65536) buffer
queue_ptr (1,) buffer int64
projector.layers.0.weight (1024,192)
projector.layers.0.bias (1024,)
projector.layers.2.weight (1024,1024)
projector.layers.2.bias (1024,)
projector.layers.4.weight (512,1024)
projector.layers.4.bias (512,)
train_transform.transforms.0.transforms.2.brightness (2,) buffer
train_transform.transforms.0.transforms.2.contrast (2,) buffer
train_transform.transforms.0.transforms.2.saturation (2,) buffer
train_transform.transforms.0.transforms.2.hue (2,) buffer
train_transform.transforms.0.transforms.4.sigma (2,) buffer
train_transform.transforms.0.transforms.5.threshold () buffer
train_transform.transforms.0.transforms.7.mean (3,1,1) buffer
train_transform.transforms.0.transforms.7.std (3,1,1) buffer
"""

FINETUNE_EXTRAS = """
head_class.layers.0.weight (17,192)
head_class.layers.0.bias (17,)
train_transform.0._transform.0.transforms.2.brightness (2,) buffer
train_transform.0._transform.0.transforms.2.contrast (2,) buffer
train_transform.0._transform.0.transforms.2.saturation (2,) buffer
train_transform.0._transform.0.transforms.3.sigma (2,) buffer
train_transform.0._transform.0.transforms.5.mean (3,1,1) buffer
train_transform.0._transform.0.transforms.5.std (3,1,1) buffer
val_transform.1._transform.0.transforms.2.mean (3,1,1) buffer
val_transform.1._transform.0.transforms.2.std (3,1,1) buffer
test_transform.1._transform.0.transforms.2.mean (3,1,1) buffer
test_transform.1._transform.0.transforms.2.std (3,1,1) buffer
"""

_BRACE = re.compile(r"\{([^}]*)\}")


def _expand_braces(key: str) -> list[str]:
    """``a.{0..2}.b`` -> a.0.b, a.1.b, a.2.b; ``{1,3}`` -> 1, 3."""
    choices = []
    for body in _BRACE.findall(key):
        if ".." in body:
            lo, hi = body.split("..")
            choices.append([str(i) for i in range(int(lo), int(hi) + 1)])
        else:
            choices.append(body.split(","))
    template = _BRACE.sub("{}", key)
    return [template.format(*combo) for combo in itertools.product(*choices)]


def expand_table(table: str) -> dict[str, tuple[tuple[int, ...], bool, torch.dtype]]:
    """Expand a table into ``{key: (shape, is_buffer, dtype)}``."""
    out: dict[str, tuple[tuple[int, ...], bool, torch.dtype]] = {}
    for line in table.strip().splitlines():
        key, shape_text, *flags = line.split()
        shape = tuple(int(s) for s in shape_text.strip("()").split(",") if s)
        dtype = torch.int64 if "int64" in flags else torch.float32
        for k in _expand_braces(key):
            out[k] = (shape, "buffer" in flags, dtype)
    return out
