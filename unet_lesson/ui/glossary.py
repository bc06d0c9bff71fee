"""The notes' terms and the course's: one source of truth for notebook 00 and every lesson."""

from __future__ import annotations

import html

from .tables import Raw, html_table

__all__ = ["GLOSSARY", "term", "glossary_html"]

# (as the notes write it, pinyin, the course's term, where the course teaches it)
GLOSSARY: list[tuple[str, str, str, str]] = [
    ("收缩路径", "shōusuō lùjìng", "contracting path (encoder)", "06"),
    ("扩展路径", "kuòzhǎn lùjìng", "expanding path (decoder)", "06"),
    ("下采样", "xià cǎiyàng", "downsampling (here: 2x2 max pooling)", "02"),
    ("上采样", "shàng cǎiyàng", "upsampling (here: the 2x2 up-conv)", "03"),
    ("池化", "chíhuà", "pooling", "02"),
    ("卷积", "juǎnjī", "convolution", "01"),
    ("转置卷积", "zhuǎnzhì juǎnjī", "transposed convolution (up-conv)", "03"),
    ("填充", "tiánchōng", "padding", "01"),
    ("步长", "bùcháng", "stride", "01"),
    ("通道", "tōngdào", "channel", "01"),
    ("特征图", "tèzhēng tú", "feature map", "01"),
    ("中心裁剪", "zhōngxīn cáijiǎn", "center crop (the crop of copy and crop)", "04"),
    ("拼接", "pīnjiē", "concatenation along channels", "04"),
    ("copy & crop", "", "skip connection with center crop", "04"),
    ("分割图", "fēngē tú", "segmentation map", "05"),
    ("前景 / 背景", "qiánjǐng / bèijǐng", "foreground / background", "05"),
    ("训练过程", "xùnliàn guòchéng", "training process", "08"),
    ("现在我们的修改", "xiànzài wǒmen de xiūgǎi", "our modification today: same padding + Conv-BN-ReLU", "07"),
    ("输入 & 输出不同", "shūrù & shūchū bùtóng", "input and output sizes differ (overlap-tile makes that fine)", "09"),
    ("镜像", "jìngxiàng", "mirroring (overlap-tile's extrapolation at the image border)", "09"),
    ("减半", "jiǎnbàn", "halve (the pool halves the size)", "02"),
    ("不变", "bù biàn", "unchanged (e.g. channels through a pool)", "02"),
    ("翻倍", "fānbèi", "double (the first conv of a block doubles the channels)", "01"),
]


def term(notes_word: str) -> str:
    """The course's term for a word of the notes, e.g. ``term("收缩路径") == "contracting path (encoder)"``."""
    for zh, _py, en, _lesson in GLOSSARY:
        if zh == notes_word:
            return en
    raise KeyError(f"{notes_word!r} is not in the glossary; known: {', '.join(g[0] for g in GLOSSARY)}")


def glossary_html() -> str:
    rows = [
        (Raw(f"<span style='font-size:15px'>{html.escape(zh)}</span>"), Raw(f"<i>{html.escape(py)}</i>"), en, lesson)
        for zh, py, en, lesson in GLOSSARY
    ]
    return html_table(["the notes", "pinyin", "the course", "lesson"], rows, css="ul-glossary")
