"""Batched clip augmentations with parameters drawn per clip and shared by all of its frames.

Usage:
    augment = ClipAugment(AugmentConfig.finetune(img_size=224))   # method.md §6 (training)
    view1 = ClipAugment(AugmentConfig.ssl_view(1))                # §2, one per view
    distill = ClipAugment(AugmentConfig.distill())                 # §5
    evaluate = ClipAugment(AugmentConfig.evaluation(img_size=224))   # resize + normalize only
    x = augment(clips)       # uint8 (B, T, H, W, 3) -> float (B, 3, T, 224, 224)

The models see a clip as one video: every frame of a clip gets the same resize (or the same
random resized crop, §2), the same colour jitter factors, the same grayscale / blur / solarize / flip decisions (method.md §2, §5,
§6 "parameters shared across a clip's frames"). Augmentation runs on batches where the batch is
(after the DataLoader), so on a GPU it costs little and the workers only decode JPEG. Each
operation runs only on the clips that drew it. Colour operations follow torchvision's
definitions in a fixed order (brightness, contrast, saturation, hue); hue and blur use kornia.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import kornia.enhance
import kornia.filters
import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: ITU-R 601 luma weights (torchvision's rgb_to_grayscale).
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings (defaults: method.md §6 training).

    Attributes:
        img_size: Output height and width (frames are resized to a square, as the paper does).
        jitter: Colour jitter strengths (brightness, contrast, saturation, hue), torchvision's
            meaning: factors uniform in [1 - s, 1 + s], hue shift uniform in [-h, h] turns.
        p_jitter: Probability of the colour jitter.
        p_gray: Probability of converting to grayscale (3 equal channels).
        p_blur: Probability of a Gaussian blur.
        blur_kernel: Blur kernel size in pixels at 224 px (odd; scaled with the image size).
        blur_sigma: Range of the blur's sigma in pixels at 224 px.
        p_solarize: Probability of solarizing (values >= threshold become 1 - value).
        solarize_threshold: Solarization threshold on [0, 1] values.
        p_flip: Probability of a horizontal flip.
        crop_scale: Random resized crop (training only): range of the crop's area as a fraction
            of the frame's; None resizes the whole frame.
        crop_ratio: Range of the crop's aspect ratio (width / height, in pixels).
        mean: Normalization mean per channel.
        std: Normalization std per channel.
    """

    img_size: int = 224
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.0)
    p_jitter: float = 0.8
    p_gray: float = 0.0
    p_blur: float = 0.5
    blur_kernel: int = 23
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    p_solarize: float = 0.0
    solarize_threshold: float = 0.5
    p_flip: float = 0.5
    crop_scale: tuple[float, float] | None = None
    crop_ratio: tuple[float, float] = (16 / 9 * 0.75, 16 / 9 * 1.25)
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)

    @classmethod
    def finetune(cls, img_size: int = 224) -> AugmentConfig:
        """§6 training: jitter (0.4, 0.4, 0.4, 0) p 0.8, blur p 0.5, flip p 0.5."""
        return cls(img_size=img_size)

    @classmethod
    def ssl_view(cls, view: int, img_size: int = 224) -> AugmentConfig:
        """§2, view 1 or 2: random resized crop scale (0.2, 1) ratio 16:9 x [0.75, 1.25], jitter
        (0.4, 0.4, 0.2, 0.1) p 0.8, gray 0.2, blur p 1.0 (view 1) / 0.1 (view 2), solarize
        p 0 / 0.2, flip 0.5."""
        if view not in (1, 2):
            raise ValueError(f"SSL view must be 1 or 2, got {view}")
        return cls(
            img_size=img_size,
            jitter=(0.4, 0.4, 0.2, 0.1),
            p_gray=0.2,
            p_blur=1.0 if view == 1 else 0.1,
            p_solarize=0.0 if view == 1 else 0.2,
            crop_scale=(0.2, 1.0),
        )

    @classmethod
    def distill(cls, img_size: int = 224) -> AugmentConfig:
        """§5: jitter (0.8, 0.8, 0.4, 0.2) p 0.8, gray 0.2, blur 0.5, solarize 0.2, flip 0.5."""
        return cls(img_size=img_size, jitter=(0.8, 0.8, 0.4, 0.2), p_gray=0.2, p_solarize=0.2)

    @classmethod
    def evaluation(cls, img_size: int = 224) -> AugmentConfig:
        """Validation and inference: resize and normalize only."""
        return cls(img_size=img_size, p_jitter=0.0, p_blur=0.0, p_flip=0.0)


def _sample(b: int, p: float, device: torch.device, gen: torch.Generator | None) -> Tensor:
    """Which of ``b`` clips draw an operation of probability ``p``. Shapes: -> bool (B,)."""
    if p <= 0:
        return torch.zeros(b, dtype=torch.bool, device=device)
    return torch.rand(b, device=device, generator=gen) < p


def _uniform(
    n: int, lo: float, hi: float, device: torch.device, gen: torch.Generator | None
) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, device=device, generator=gen)


def _gray(x: Tensor) -> Tensor:
    """Luma of RGB images. Shapes: (..., 3, H, W) -> (..., 1, H, W)."""
    r, g, b = x.unbind(-3)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(-3)


def _per_frame(values: Tensor, frames: int) -> Tensor:
    """Repeat per-clip values for each frame. Shapes: (b, ...) -> (b * T, ...)."""
    return values.repeat_interleave(frames, dim=0)


class ClipAugment(nn.Module):
    """Resize, augment and normalize batches of uint8 clips (no parameters, no buffers to save).

    Args:
        cfg: The settings.

    Shapes:
        clips: uint8 (B, T, H, W, 3) -> float32 (B, 3, T, S, S), S = ``cfg.img_size``.
    """

    def __init__(self, cfg: AugmentConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # kernel and sigma are given at 224 px: scale them with the image (odd kernel >= 3)
        self.blur_kernel = max(3, round(cfg.blur_kernel * cfg.img_size / 224) | 1)
        self.sigma_scale = cfg.img_size / 224

    @torch.no_grad()
    def forward(self, clips: Tensor, generator: torch.Generator | None = None) -> Tensor:
        cfg = self.cfg
        b, t, h, w, c = clips.shape
        dev = clips.device
        x = clips.permute(0, 1, 4, 2, 3).reshape(b * t, c, h, w).float().div_(255)  # (B*T, 3, H, W)
        if self.training and cfg.crop_scale is not None:
            x = self._crop(x, b, t, generator)  # (B*T, 3, S, S)
        elif (h, w) != (cfg.img_size, cfg.img_size):
            x = F.interpolate(
                x, size=(cfg.img_size, cfg.img_size), mode="bilinear", antialias=True
            ).clamp_(0, 1)
        x = x.view(b, t, c, cfg.img_size, cfg.img_size)  # (B, T, 3, S, S)
        if self.training:
            x = self._augment(x, generator)
        mean = torch.tensor(cfg.mean, device=dev).view(1, 1, 3, 1, 1)
        std = torch.tensor(cfg.std, device=dev).view(1, 1, 3, 1, 1)
        x = (x - mean) / std
        return x.permute(0, 2, 1, 3, 4).contiguous()  # (B, 3, T, S, S)

    def _crop(self, x: Tensor, b: int, t: int, gen: torch.Generator | None) -> Tensor:
        """Random resized crop, one box per clip, resampled to S x S for all of its frames.

        Like torchvision's RandomResizedCrop the box has an area fraction uniform in
        ``crop_scale`` and a log-uniform aspect ratio in ``crop_ratio``; instead of redrawing a
        box that does not fit (torchvision tries 10 times) its sides are clamped to the frame,
        so that the draw stays one batched operation. Resampling is bilinear through an affine
        grid (no antialiasing).

        Shapes:
            x: (B*T, 3, H, W) -> (B*T, 3, S, S)
        """
        cfg = self.cfg
        h, w = x.shape[-2:]
        dev = x.device
        area = _uniform(b, *cfg.crop_scale, dev, gen) * (h * w)  # (B,) pixels
        lo, hi = math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1])
        ratio = torch.exp(_uniform(b, lo, hi, dev, gen))  # (B,) width / height
        cw = torch.sqrt(area * ratio).clamp(max=w)  # (B,) crop width in pixels
        ch = torch.sqrt(area / ratio).clamp(max=h)
        x0 = _uniform(b, 0.0, 1.0, dev, gen) * (w - cw)  # (B,) left edge
        y0 = _uniform(b, 0.0, 1.0, dev, gen) * (h - ch)
        theta = torch.zeros(b, 2, 3, device=dev)
        # output [-1, 1] -> input normalized coordinates of the box (align_corners=False)
        theta[:, 0, 0] = cw / w
        theta[:, 0, 2] = (2 * x0 + cw) / w - 1
        theta[:, 1, 1] = ch / h
        theta[:, 1, 2] = (2 * y0 + ch) / h - 1
        size = (b * t, x.shape[1], cfg.img_size, cfg.img_size)
        grid = F.affine_grid(_per_frame(theta, t), list(size), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", align_corners=False).clamp_(0, 1)

    def _augment(self, x: Tensor, gen: torch.Generator | None) -> Tensor:
        """Draw each clip's parameters once; apply them to all of its frames."""
        cfg = self.cfg
        b, t = x.shape[:2]
        dev = x.device
        jitter = _sample(b, cfg.p_jitter, dev, gen)
        bright, contrast, sat, hue = cfg.jitter
        factors = {
            "brightness": _uniform(b, max(0.0, 1 - bright), 1 + bright, dev, gen),
            "contrast": _uniform(b, max(0.0, 1 - contrast), 1 + contrast, dev, gen),
            "saturation": _uniform(b, max(0.0, 1 - sat), 1 + sat, dev, gen),
            "hue": _uniform(b, -hue, hue, dev, gen),
        }
        gray = _sample(b, cfg.p_gray, dev, gen)
        blur = _sample(b, cfg.p_blur, dev, gen)
        sigma = _uniform(b, *cfg.blur_sigma, dev, gen) * self.sigma_scale
        solarize = _sample(b, cfg.p_solarize, dev, gen)
        flip = _sample(b, cfg.p_flip, dev, gen)

        def apply(selected: Tensor, fn, *params: Tensor) -> None:  # noqa: ANN001
            idx = selected.nonzero().flatten()
            if idx.numel() == 0:
                return
            sub = x[idx].flatten(0, 1)  # (n*T, 3, S, S)
            per_frame = [_per_frame(p[idx], t) for p in params]
            x[idx] = fn(sub, *per_frame).view(idx.numel(), t, *x.shape[2:])

        if bright > 0:
            apply(
                jitter, lambda v, f: (v * f[:, None, None, None]).clamp(0, 1), factors["brightness"]
            )
        if contrast > 0:
            apply(jitter, _blend_mean, factors["contrast"])
        if sat > 0:
            apply(jitter, lambda v, f: _blend(v, _gray(v), f), factors["saturation"])
        if hue > 0:
            apply(
                jitter, lambda v, f: kornia.enhance.adjust_hue(v, f * 2 * math.pi), factors["hue"]
            )
        apply(gray, lambda v: _gray(v).expand_as(v).clone())
        apply(
            blur,
            lambda v, s: kornia.filters.gaussian_blur2d(
                v, (self.blur_kernel, self.blur_kernel), torch.stack([s, s], dim=1)
            ),
            sigma,
        )
        th = cfg.solarize_threshold
        apply(solarize, lambda v: torch.where(v >= th, 1 - v, v))
        apply(flip, lambda v: v.flip(-1))
        return x


def _blend(img: Tensor, other: Tensor, factor: Tensor) -> Tensor:
    """torchvision's blend: ``factor * img + (1 - factor) * other``, clamped to [0, 1]."""
    f = factor[:, None, None, None]
    return (f * img + (1 - f) * other).clamp(0, 1)


def _blend_mean(img: Tensor, factor: Tensor) -> Tensor:
    """Contrast: blend with the mean luma of each frame (torchvision's adjust_contrast)."""
    mean = _gray(img).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(img, mean.expand_as(img), factor)
