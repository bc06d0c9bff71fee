r"""Checkers for the course's code exercises: each runs a student's function or ``nn.Module`` class
on many small cases against the real PyTorch layer (or ``unet_lesson``'s own implementation) and
reports the first failing case in words, with a nudge when a known slip matches.

Each ``check_xxx(student) -> CaseResult`` never raises, and carries ``.reference`` (a correct,
literate implementation from :mod:`.solutions`) and ``.solution_source`` (what ``EX.solution()``
shows). A lesson wraps one in a :class:`unet_lesson.ui.exercises.CodeExercise`::

    EX_CONV_OUT = TEXT.code_exercise("1.8", check_conv_out)   # its question and hints in lessons/text/

==========================  ======  ==========================================================
checker                     lesson  the student writes
==========================  ======  ==========================================================
``check_conv_out``          01      ``conv_out(h, k, s, p)``
``check_conv_out_dilated``  01      ``conv_out_dilated(h, k, s, p, d)``
``check_max_pool``          02      ``max_pool(x, k=2, s=2)`` on a 2-D numpy array
``check_pool_size``         02      ``pool_size(h, k, s, ceil_mode)``
``check_conv_transpose``    03      ``conv_transpose(x, w, stride)``: scatter and sum in numpy
``check_center_crop``       04      ``center_crop(skip, target_hw)`` on (C, H, W)
``check_crop_and_concat``   04      ``crop_and_concat(skip, up)`` on (N, C, H, W)
``check_head``              05      ``head(features, weight, bias)``: the 1x1 conv as a matrix product
``check_double_conv``       06      ``class DoubleConv(nn.Module)``
``check_my_unet``           06      ``class MyUNet(nn.Module)``, the paper's network
``check_same_block``        07      ``class SameBlock(nn.Module)``: Conv-BN-ReLU, padding 1
``check_same_unet``         07      ``class SameUNet(nn.Module)``: output size = input size
``check_weighted_loss``     08      ``weighted_loss(logits, target, weights)``: the weighted cross-entropy
``check_margin``            09      ``margin(depth)``: the overlap-tile margin per side of the valid U-Net
==========================  ======  ==========================================================
"""

from . import solutions
from ._engine import CaseResult, stub_reason
from .arrays import check_center_crop, check_conv_transpose, check_crop_and_concat, check_head, check_max_pool
from .losses import check_weighted_loss
from .modules import check_double_conv, check_my_unet, check_same_block, check_same_unet
from .sizes import check_conv_out, check_conv_out_dilated, check_pool_size
from .tiling import check_margin

__all__ = [
    "CaseResult",
    "stub_reason",
    "solutions",
    "CHECKERS",
    "check_conv_out",
    "check_conv_out_dilated",
    "check_max_pool",
    "check_pool_size",
    "check_conv_transpose",
    "check_center_crop",
    "check_crop_and_concat",
    "check_head",
    "check_double_conv",
    "check_my_unet",
    "check_same_block",
    "check_same_unet",
    "check_weighted_loss",
    "check_margin",
]

# every checker, by the name of what the student writes
CHECKERS = {
    "conv_out": check_conv_out,
    "conv_out_dilated": check_conv_out_dilated,
    "max_pool": check_max_pool,
    "pool_size": check_pool_size,
    "conv_transpose": check_conv_transpose,
    "center_crop": check_center_crop,
    "crop_and_concat": check_crop_and_concat,
    "head": check_head,
    "DoubleConv": check_double_conv,
    "MyUNet": check_my_unet,
    "SameBlock": check_same_block,
    "SameUNet": check_same_unet,
    "weighted_loss": check_weighted_loss,
    "margin": check_margin,
}
