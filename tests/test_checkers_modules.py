"""The module checkers of lessons 06 and 07 (DoubleConv, MyUNet, SameBlock, SameUNet): each typical wrong
version, written out here, is rejected with the case in words, the package's numbers and a fitting nudge;
correct versions with their own layer names and registration order are accepted."""

import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unet_lesson import DoubleConvolution, UNet
from unet_lesson.core.ops import center_crop
from unet_lesson.ui import checkers as C
from unet_lesson.ui.checkers import solutions as S


def _wrong(result, *phrases, diagnosis=""):
    assert result.status == "wrong", result
    for p in phrases:
        assert p in result.message, (p, result.message)
    assert diagnosis in result.diagnosis, (diagnosis, result.diagnosis, result.message)
    return result


# ---- 06 and 07: blocks ------------------------------------------------------------------------
def _block(
    in_channels,
    out_channels,
    *,
    padding=0,
    bn=False,
    bias=True,
    relu_first=False,
    relus=(1, 2),
    second_in=None,
    convs=2,
):
    """A hand-written double conv with one thing changed (what a student might write)."""
    layers, c = [], in_channels
    for i in range(1, convs + 1):
        c_in = second_in if (i == 2 and second_in is not None) else c
        layers.append(nn.Conv2d(c_in, out_channels, 3, padding=padding, bias=bias))
        step = ([nn.ReLU()] if i in relus else []) + ([nn.BatchNorm2d(out_channels)] if bn else [])
        layers += step if relu_first else step[::-1]
        c = out_channels
    return nn.Sequential(*layers)


class DoubleConvPadded(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.net = _block(in_channels, out_channels, padding=1)

    def forward(self, x):
        return self.net(x)


def _variant(name, **changes):
    """A DoubleConv/SameBlock class built by ``_block`` with ``changes``."""

    def __init__(self, in_channels, out_channels):
        nn.Module.__init__(self)
        self.net = _block(in_channels, out_channels, **changes)

    return type(name, (nn.Module,), {"__init__": __init__, "forward": lambda self, x: self.net(x)})


DoubleConvSingle = _variant("DoubleConvSingle", convs=1)
DoubleConvNoReLU = _variant("DoubleConvNoReLU", relus=())
DoubleConvReLUAtTheEndOnly = _variant("DoubleConvReLUAtTheEndOnly", relus=(2,))
DoubleConvWithBatchNorm = _variant("DoubleConvWithBatchNorm", bn=True, bias=False)
DoubleConvAsWritten = _variant("DoubleConvAsWritten")  # correct, with other layer names


class DoubleConvSecondFromIn(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.a = nn.Conv2d(in_channels, out_channels, 3)
        self.b = nn.Conv2d(in_channels, out_channels, 3)  # the slip: in_channels again

    def forward(self, x):
        return torch.relu(self.b(torch.relu(self.a(x))))


class TestDoubleConvRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, phrase, nudge",
        [
            (DoubleConvPadded, "gives shape (1, 8, 12, 12)", "padding=1"),
            (DoubleConvSingle, "gives shape (1, 8, 10, 10)", "one 3×3 conv"),
            (DoubleConvNoReLU, "values differ", "no ReLU"),
            (DoubleConvReLUAtTheEndOnly, "values differ", "after the first conv"),
            (DoubleConvWithBatchNorm, "parameters", "batch norm belongs to lesson 07"),
            (DoubleConvSecondFromIn, "raised RuntimeError", "channels"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_with_the_case_and_nudge(self, wrong, phrase, nudge):
        r = _wrong(C.check_double_conv(wrong), phrase, diagnosis=nudge)
        assert "DoubleConv(" in r.message

    def test_the_parameter_count_named_is_the_packages(self):
        r = C.check_double_conv(DoubleConvWithBatchNorm)
        real = sum(p.numel() for p in DoubleConvolution(1, 8).parameters())
        yours = sum(p.numel() for p in DoubleConvWithBatchNorm(1, 8).parameters())
        assert r.message == f"DoubleConv(1, 8) has {yours:,} parameters, unet_lesson.DoubleConvolution {real:,}."

    def test_other_names_and_a_sequential_factory_are_accepted(self):
        assert C.check_double_conv(DoubleConvAsWritten).status == "correct"
        assert (
            C.check_double_conv(
                lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3), nn.ReLU(), nn.Conv2d(o, o, 3), nn.ReLU())
            ).status
            == "correct"
        )
        assert C.check_double_conv(DoubleConvolution).status == "correct"


SameBlockWithoutBatchNorm = _variant("SameBlockWithoutBatchNorm", padding=1)
SameBlockReLUBeforeBN = _variant("SameBlockReLUBeforeBN", padding=1, bn=True, bias=False, relu_first=True)
SameBlockValid = _variant("SameBlockValid", bn=True, bias=False)
SameBlockWithBias = _variant("SameBlockWithBias", padding=1, bn=True)
SameBlockAsWritten = _variant("SameBlockAsWritten", padding=1, bn=True, bias=False)


class SameBlockBatchStatistics(nn.Module):
    """Batch norm by hand with the batch's own statistics, even in eval mode."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2)):
            x = torch.relu(F.batch_norm(conv(x), None, None, bn.weight, bn.bias, training=True))
        return x


class TestSameBlockRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, phrase, nudge",
        [
            (SameBlockWithoutBatchNorm, "parameters", "no batch norm"),
            (SameBlockReLUBeforeBN, "values differ", "Conv → BN → ReLU"),
            (SameBlockValid, "gives shape (1, 8, 8, 8)", "padding=1"),
            (SameBlockWithBias, "parameters", "bias=False"),
            (SameBlockBatchStatistics, "values differ", "running statistics"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_with_the_case_and_nudge(self, wrong, phrase, nudge):
        _wrong(C.check_same_block(wrong), phrase, diagnosis=nudge)

    def test_other_names_and_the_package_block_are_accepted(self):
        assert C.check_same_block(SameBlockAsWritten).status == "correct"
        assert C.check_same_block(lambda i, o: DoubleConvolution(i, o, padding=1, batch_norm=True)).status == "correct"


# ---- 06 and 07: whole networks ----------------------------------------------------------------
def _my_forward(net, x, *, crop=S.center_crop, copy_first=True, pool_first=False, pop=-1, head=True):
    """6.6's forward (MyUNet's and SameUNet's layer names), with one slip switched on."""
    copies = []
    for block in net.contracting:
        x = block(x)
        if pool_first:  # the slip: the copy taken after the pool
            x = net.pool(x)
            copies.append(x)
        else:
            copies.append(x)
            x = net.pool(x)
    x = net.bottom(x)
    for up_conv, block in zip(net.up_convs, net.expanding):
        x = up_conv(x)
        copied = copies.pop(pop)
        copied = crop(copied, x.shape[-2:]) if crop else copied
        x = block(torch.cat([copied, x] if copy_first else [x, copied], dim=1))
    return net.head(x) if head else x


def _forward_slip(name, **slip):
    return type(name, (S.MyUNet,), {"forward": lambda self, x: _my_forward(self, x, **slip)})


MyUNetWithoutCrop = _forward_slip("MyUNetWithoutCrop", crop=None)
MyUNetCatSwapped = _forward_slip("MyUNetCatSwapped", copy_first=False)
MyUNetCornerCrop = _forward_slip("MyUNetCornerCrop", crop=lambda m, hw: m[..., : hw[0], : hw[1]])
MyUNetNoHead = _forward_slip("MyUNetNoHead", head=False)
MyUNetCopiesInOrder = _forward_slip("MyUNetCopiesInOrder", pop=0)
MyUNetCopyAfterPool = _forward_slip("MyUNetCopyAfterPool", pool_first=True, crop=center_crop)


class MyUNetUpNotHalved(S.MyUNet):
    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4):
        super().__init__(in_channels, num_classes, base_channels, depth)
        chans = [base_channels * 2**level for level in range(depth)]
        self.up_convs = nn.ModuleList(nn.ConvTranspose2d(2 * c, 2 * c, 2, stride=2) for c in reversed(chans))
        self.expanding = nn.ModuleList(S.DoubleConv(3 * c, c) for c in reversed(chans))


class MyUNetPadded(S.MyUNet):
    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4):
        super().__init__(in_channels, num_classes, base_channels, depth)
        for b in [*self.contracting, self.bottom, *self.expanding]:
            b.conv1.padding = b.conv2.padding = (1, 1)


class MyUNetInterleaved(nn.Module):
    """Correct, but with its own names and registration order (up-conv and double conv in pairs)."""

    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4):
        super().__init__()
        self.head = nn.Conv2d(base_channels, num_classes, 1)  # registered first, used last
        chans = [base_channels * 2**level for level in range(depth + 1)]
        self.encoder = nn.ModuleList(S.DoubleConv(c_in, c) for c_in, c in zip([in_channels] + chans[:-2], chans[:-1]))
        self.middle = S.DoubleConv(chans[-2], chans[-1])
        self.decoder = nn.ModuleList(
            nn.ModuleDict({"up": nn.ConvTranspose2d(2 * c, c, 2, 2), "conv": S.DoubleConv(2 * c, c)})
            for c in reversed(chans[:-1])
        )

    def forward(self, x):
        skips = []
        for enc in self.encoder:
            x = enc(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.middle(x)
        for dec in self.decoder:
            x = dec["up"](x)
            x = dec["conv"](torch.cat([S.center_crop(skips.pop(), x.shape[-2:]), x], 1))
        return self.head(x)


class MyUNetSigmoidHead(S.MyUNet):
    def forward(self, x):
        return torch.sigmoid(super().forward(x))


class TestMyUNetRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, phrase, nudge",
        [
            (
                MyUNetWithoutCrop,
                "MyUNet() on a 572×572×1 input (shapes computed on the meta device) yours raised RuntimeError",
                "centre-crop",
            ),
            (MyUNetUpNotHalved, "MyUNet() has 36,", "1024×512×2×2"),
            (MyUNetPadded, "yours gives 560×560×2, unet_lesson.UNet() gives 388×388×2", "padding=1"),
            (MyUNetSigmoidHead, "values differ", "a sigmoid after the head"),
            (
                MyUNetCatSwapped,
                "for MyUNet(in_channels=1, num_classes=2, base_channels=4, depth=2) on an input of shape "
                "(2, 1, 44, 60) (N, C, H, W) yours gives",
                "the copy comes first",
            ),
            (MyUNetCornerCrop, "values differ", "top-left corner"),
            (
                MyUNetNoHead,
                "MyUNet() on a 572×572×1 input (shapes computed on the meta device) yours gives 388×388×64, "
                "unet_lesson.UNet() gives 388×388×2",
                "the 1×1 head",
            ),
            (MyUNetCopiesInOrder, "yours raised RuntimeError", "reverse order, the deepest first"),
            (MyUNetCopyAfterPool, "yours raised LayerSizeError: Cannot crop a 32x32 map to 56x56", "*before* its pool"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_with_the_case_and_nudge(self, wrong, phrase, nudge):
        _wrong(C.check_my_unet(wrong), phrase, diagnosis=nudge)

    def test_own_names_and_registration_order_are_accepted(self):
        r = C.check_my_unet(MyUNetInterleaved)
        assert r.status == "correct" and "31,030,658" in r.message and "3 small configurations" in r.message

    @pytest.mark.slow
    def test_without_the_keywords_the_default_network_is_compared(self):
        class MyUNetNoKeywords(S.MyUNet):
            def __init__(self):
                super().__init__()

        r = C.check_my_unet(MyUNetNoKeywords)
        assert r.status == "correct" and "188×188" in r.message and "keywords" in r.message


def _same_slip(name, **slip):
    """A SameUNet (its __init__ is the notebook's) with 6.6's forward, no crop, and one slip switched on
    (SameUNet has MyUNet's layer names)."""
    slip = {"crop": None, **slip}
    return type(name, (S.SameUNet,), {"forward": lambda self, x: _my_forward(self, x, **slip)})


SameUNetAsInLesson06 = _same_slip("SameUNetAsInLesson06")  # pop() and a plain cat: right
SameUNetLeftoverCrop = _same_slip("SameUNetLeftoverCrop", crop=center_crop)  # a no-op with same padding: right
SameUNetCatSwapped = _same_slip("SameUNetCatSwapped", copy_first=False)
SameUNetNoHead = _same_slip("SameUNetNoHead", head=False)
SameUNetCopiesInOrder = _same_slip("SameUNetCopiesInOrder", pop=0)
SameUNetCopyAfterPool = _same_slip("SameUNetCopyAfterPool", pool_first=True)


class SameUNetSoftmaxHead(S.SameUNet):
    def forward(self, x):
        return torch.softmax(super().forward(x), dim=1)


# 6.6's forward copied into lesson 07, whose notebook does not import center_crop
CROP_LEFT_IN = "class SameUNetCropLeftIn(SameUNet):\n" + inspect.getsource(S.MyUNet.forward)


class SameUNetValidBlocks(S.SameUNet):
    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4):
        super().__init__(in_channels, num_classes, base_channels, depth)
        for block in [*self.contracting, self.bottom, *self.expanding]:
            for m in block.modules():
                if isinstance(m, nn.Conv2d):
                    m.padding = (0, 0)


class SameUNetWithoutBatchNorm(S.SameUNet):
    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4):
        super().__init__(in_channels, num_classes, base_channels, depth)
        for block in [*self.contracting, self.bottom, *self.expanding]:
            block.block = nn.Sequential(*[m for m in block.block if not isinstance(m, nn.BatchNorm2d)])


class TestSameUNetRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, phrase, nudge",
        [
            (SameUNetValidBlocks, "SameUNet() on a 512×512×1 input", "differ in size"),
            (SameUNetWithoutBatchNorm, "SameUNet() has 31,0", "BatchNorm2d"),
            (
                SameUNetCatSwapped,
                "for SameUNet(in_channels=1, num_classes=2, base_channels=4, depth=2) on an input of shape "
                "(2, 1, 16, 20) (N, C, H, W) yours gives",
                "the copy comes first",
            ),
            (
                SameUNetNoHead,
                "SameUNet() on a 512×512×1 input (shapes computed on the meta device) yours gives 512×512×64, "
                "unet_lesson.UNet(padding='same') gives 512×512×2",
                "the 1×1 head",
            ),
            (SameUNetCopiesInOrder, "yours raised RuntimeError", "reverse order, the deepest first"),
            (SameUNetCopyAfterPool, "yours raised RuntimeError", "*before* self.pool"),
            (SameUNetSoftmaxHead, "values differ", "a softmax after the head"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_with_the_case_and_nudge(self, wrong, phrase, nudge):
        _wrong(C.check_same_unet(wrong), phrase, diagnosis=nudge)

    @pytest.mark.parametrize("right", [SameUNetAsInLesson06, SameUNetLeftoverCrop], ids=lambda c: c.__name__)
    def test_the_lesson_06_way_and_a_leftover_crop_are_accepted(self, right):
        r = C.check_same_unet(right)
        assert r.status == "correct" and "3 small configurations" in r.message, r

    def test_a_crop_left_in_without_its_import_is_told_it_needs_none(self):
        namespace = {"SameUNet": S.SameUNet, "torch": torch, "nn": nn}
        exec(CROP_LEFT_IN, namespace)
        r = C.check_same_unet(namespace["SameUNetCropLeftIn"])
        assert r.status == "wrong" and "NameError" in r.message, r
        assert "no crop is needed any more" in r.diagnosis, r

    def test_a_same_block_still_a_stub_is_not_attempted(self):
        class SameBlockStub(nn.Module):
            def __init__(self, in_channels, out_channels):
                super().__init__()

            def forward(self, x): ...

        class SameUNetOnStub(S.SameUNet):
            pass

        import unet_lesson.ui.checkers.solutions as solutions

        real = solutions.SameBlock
        try:
            solutions.SameBlock = SameBlockStub  # the __init__ looks SameBlock up where it is defined
            r = C.check_same_unet(SameUNetOnStub)
        finally:
            solutions.SameBlock = real
        assert r.status == "not attempted" and "built from your SameBlockStub" in r.message, r

    def test_the_package_network_is_accepted(self):
        assert C.check_same_unet(lambda **kw: UNet(padding="same", **kw)).status == "correct"
