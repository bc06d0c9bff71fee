"""unet_lesson: the helper package of the course "U-Net, layer by layer".

The lessons in ``notebooks/`` explain; this package computes. Every size, formula and
parameter count a lesson shows comes from here, and the tests check it against real
PyTorch layers and against the 2015 paper's Fig. 1.

Core names (importable from ``unet_lesson`` itself):

* size arithmetic: :func:`conv_out`, :func:`pool_out`, :func:`up_conv_out`,
  :func:`center_crop_box` (each has ``.explain(...)`` giving the formula with numbers)
* the network: :class:`UNet` and its parts in the paper's words
* shapes: :func:`shape_table`, :func:`check_input_size`, :func:`valid_input_sizes`,
  :class:`InvalidInputSize`, :func:`count_parameters`
"""
from .core.sizes import CropBox, Formula, LayerSizeError, center_crop_box, conv_out, pool_out, up_conv_out
from .core.shapes import (InvalidInputSize, LayerRow, ShapeTable, check_input_size, count_parameters,
                     nearest_valid_sizes, output_size, shape_table, valid_input_sizes)
from .core.model import CenterCrop, CropAndConcat, DoubleConvolution, DownSample, UNet, UpSample

__version__ = "0.1.0"

__all__ = [
    "conv_out", "pool_out", "up_conv_out", "center_crop_box", "CropBox", "Formula", "LayerSizeError",
    "UNet", "DoubleConvolution", "DownSample", "UpSample", "CenterCrop", "CropAndConcat",
    "shape_table", "ShapeTable", "LayerRow", "check_input_size", "valid_input_sizes",
    "nearest_valid_sizes", "output_size", "count_parameters", "InvalidInputSize",
]
