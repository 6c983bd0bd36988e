"""Residual blocks (He et al. 2016) as single layers, so a ResNet is a ``Sequential`` like every template.

A ``Sequential`` cannot express a skip connection between its layers, so the block owns its
convolutions and BatchNormalizations (nnguru layers, channels-last) and adds the shortcut inside.
Padding is explicit (``ZeroPadding2D`` then a 'valid' convolution, as Keras's own ResNets do), so
a stride-2 block pads one pixel on every side like torchvision's and loads its weights unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnguru.errors import NNGuruError, describe
from nnguru.nn.layers.base import Layer, Shape, register
from nnguru.nn.layers.conv import Conv2D, ZeroPadding2D
from nnguru.nn.layers.core import BatchNormalization

# torchvision's BatchNorm2d defaults (momentum 0.1 is Keras's 0.9), so loaded statistics mean the same
BN = {"momentum": 0.9, "epsilon": 1e-5}


@register
class ResidualBlock(Layer):
    """ResNet's basic block: ``relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))``.

    The shortcut is the identity, or a strided 1x1 convolution with BatchNormalization when the
    block changes the size or the channel count. Freezing the block (``trainable = False``) freezes
    its BatchNormalizations too, which then run in inference mode (Keras's rule for a frozen body).
    """

    def __init__(self, filters: int, strides: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise NNGuruError(f"ResidualBlock(filters) must be a positive int; received {describe(filters)}.")
        if strides not in (1, 2):
            raise NNGuruError(f"ResidualBlock(strides) must be 1 or 2; received {describe(strides)}.")
        self.filters, self.strides = int(filters), int(strides)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3:
            raise NNGuruError(f"ResidualBlock expects images of shape (height, width, channels); received "
                              f"{input_shape}.")
        self.pad = ZeroPadding2D((1, 1))
        self.conv1 = Conv2D(self.filters, 3, strides=self.strides, use_bias=False, kernel_initializer="he_normal")
        self.bn1 = BatchNormalization(**BN)
        self.conv2 = Conv2D(self.filters, 3, use_bias=False, kernel_initializer="he_normal")
        self.bn2 = BatchNormalization(**BN)
        shape = self.pad.ensure_built(input_shape)
        shape = self.bn1.ensure_built(self.conv1.ensure_built(shape))
        self.bn2.ensure_built(self.conv2.ensure_built(self.pad.compute_output_shape(shape)))
        self.down = self.down_bn = None
        if self.strides != 1 or input_shape[-1] != self.filters:
            # stride 1 on the rows and columns the stride keeps (forward): the same numbers as a strided 1x1
            # convolution, without oneDNN's strided 1x1 kernel, which corrupts the heap in its backward
            # pass on AVX2 CPUs (torch 2.13; pytorch#195394, oneDNN#5942; tests/nn/test_backbones.py)
            self.down = Conv2D(self.filters, 1, use_bias=False, kernel_initializer="he_normal")
            self.down_bn = BatchNormalization(**BN)
            self.down_bn.ensure_built(self.down.ensure_built(input_shape))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        h, w, _ = input_shape
        return ((h - 1) // self.strides + 1, (w - 1) // self.strides + 1, self.filters)

    @Layer.trainable.setter
    def trainable(self, value: bool) -> None:
        Layer.trainable.fset(self, value)
        for sub in self.children():
            sub.trainable = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(self.pad(x))))
        y = self.bn2(self.conv2(self.pad(y)))
        shortcut = x if self.down is None else self.down_bn(self.down(x[:, ::self.strides, ::self.strides]))
        return F.relu(y + shortcut)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


@register
class GrayscaleToRGB(Layer):
    """Repeats a one-channel image into three (``tf.image.grayscale_to_rgb``), so a backbone trained
    on color photos reads grayscale data; three-channel inputs pass unchanged."""

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
            raise NNGuruError(f"GrayscaleToRGB expects images of shape (height, width, 1 or 3); received "
                              f"{input_shape}.")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(*x.shape[:-1], 3) if x.shape[-1] == 1 else x
