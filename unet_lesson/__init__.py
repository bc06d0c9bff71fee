"""unet_lesson: the helper package of the course "U-Net, layer by layer".

The lessons in ``notebooks/`` explain; this package computes. Every size, formula and
parameter count a lesson shows comes from here, and the tests check it against real
PyTorch layers and against the 2015 paper's Fig. 1.

Four layers, each importing only those below it (``tests/test_layers.py``):

* :mod:`unet_lesson.core` - size arithmetic, the network's options and shapes, the model, the
  operations a student re-derives by hand (pure: no plotting, no widgets);
* :mod:`unet_lesson.seg` - data, augmentation, the paper's loss, training, checkpoints, overlap-tile;
* :mod:`unet_lesson.ui` - widgets, tables, figures, exercises, the U diagram, the explorer;
* :mod:`unet_lesson.lessons` - one module per notebook (``l01_convolution_sizes`` for
  ``01_convolution_sizes.ipynb``), each with ``LESSON``, ``controls()``, views and ``EXERCISES``.

The core's names are importable from ``unet_lesson`` itself:

* size arithmetic: :func:`conv_out`, :func:`pool_out`, :func:`up_conv_out`, :func:`center_crop_box`
  (each has ``.explain(...)`` giving the formula with numbers);
* the network: :class:`UNet` and its parts in the paper's words, its knobs :class:`UNetOptions`;
* shapes: :func:`shape_table`, :func:`output_size`, :func:`valid_input_sizes`,
  :func:`nearest_valid_sizes`, :func:`smallest_valid_size`, :func:`input_size_for`, :func:`size_rule`,
  :func:`count_parameters`, :class:`InvalidInputSize`.
"""

from .core.model import CenterCrop, CropAndConcat, DoubleConvolution, DownSample, UNet, UpSample
from .core.options import UNetOptions
from .core.search import input_size_for, size_rule, smallest_valid_size, valid_input_sizes
from .core.shapes import (
    InvalidInputSize,
    LayerRow,
    ShapeTable,
    count_parameters,
    nearest_valid_sizes,
    output_size,
    shape_table,
)
from .core.sizes import CropBox, Formula, LayerSizeError, center_crop_box, conv_out, pool_out, up_conv_out

__version__ = "0.1.0"

__all__ = [
    "conv_out",
    "pool_out",
    "up_conv_out",
    "center_crop_box",
    "CropBox",
    "Formula",
    "LayerSizeError",
    "UNet",
    "UNetOptions",
    "DoubleConvolution",
    "DownSample",
    "UpSample",
    "CenterCrop",
    "CropAndConcat",
    "shape_table",
    "ShapeTable",
    "LayerRow",
    "output_size",
    "valid_input_sizes",
    "nearest_valid_sizes",
    "smallest_valid_size",
    "input_size_for",
    "size_rule",
    "count_parameters",
    "InvalidInputSize",
]
