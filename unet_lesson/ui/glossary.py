"""The notes' terms and the course's: one source of truth for notebook 00 and every lesson.

Each entry: the term as the notes write it (or, marked ``in_notes=False``, the usual Chinese term for something
the notes write only in symbols or not at all), its pinyin, the course's term, and the lesson that teaches it.
"""

from __future__ import annotations

import html
from typing import NamedTuple

from .tables import Raw, html_table

__all__ = ["Term", "GLOSSARY", "term", "glossary_html"]


class Term(NamedTuple):
    zh: str
    pinyin: str
    en: str
    lesson: str
    in_notes: bool = True


#: One term a line: the notes' word | pinyin | the course's term | lesson, and a fifth column
#: ``not in the notes`` for a term the notes write only in symbols or not at all (a ``\`` ends a line that goes on).
_TABLE = """
收缩路径 | shōusuō lùjìng | contracting path (encoder) | 06
扩展路径 | kuòzhǎn lùjìng | expanding path (decoder) | 06
下采样 | xià cǎiyàng | downsampling (here: 2x2 max pooling) | 02
上采样 | shàng cǎiyàng | upsampling (here: the 2x2 up-conv) | 03
池化 | chíhuà | pooling | 02
卷积 | juǎnjī | convolution | 01
卷积核 | juǎnjī hé | kernel (the small window of learned weights) | 01
转置卷积 | zhuǎnzhì juǎnjī | transposed convolution (up-conv) | 03
填充 | tiánchōng | padding (per side) | 01
步长 | bùcháng | stride (the notes write s) | 01 | not in the notes
通道 | tōngdào | channel | 01
特征图 | tèzhēng tú | feature map | 01
中心裁剪 | zhōngxīn cáijiǎn | center crop (the crop of copy and crop) | 04
拼接 | pīnjiē | concatenation along channels | 04
copy & crop |  | skip connection with center crop | 04
分割图 | fēngē tú | segmentation map | 05
前景 & 背景 | qiánjǐng & bèijǐng | foreground & background | 05
训练过程 | xùnliàn guòchéng | training process | 08
现在我们的修改 | xiànzài wǒmen de xiūgǎi | our modification today: same padding + Conv-BN-ReLU | 07
输入 & 输出不同 | shūrù & shūchū bùtóng | input and output sizes differ (overlap-tile makes that fine) | 09
镜像 | jìngxiàng | mirroring: the paper's extrapolation at the image border for overlap-tile | 09 | not in the notes
减半 | jiǎnbàn | halve (the pool halves the size) | 02
不变 | bù biàn | unchanged (e.g. channels through a pool) | 02
翻倍 | fānbèi | double ('conv channel 翻倍': in fact only the first conv of contracting \
levels 2-4, and the bottom's) | 02
"""


def _parse(table: str) -> list[Term]:
    terms = []
    for line in table.strip().splitlines():
        zh, pinyin, en, lesson, *rest = (cell.strip() for cell in line.split("|"))
        if rest not in ([], ["not in the notes"]):
            raise ValueError(f"glossary line {line!r}: a fifth column can only say 'not in the notes'")
        terms.append(Term(zh, pinyin, en, lesson, in_notes=not rest))
    return terms


GLOSSARY: list[Term] = _parse(_TABLE)


def term(notes_word: str) -> str:
    """The course's term for a word of the notes, e.g. ``term("收缩路径") == "contracting path (encoder)"``."""
    for t in GLOSSARY:
        if t.zh == notes_word:
            return t.en
    raise KeyError(f"{notes_word!r} is not in the glossary; known: {', '.join(t.zh for t in GLOSSARY)}")


def glossary_html() -> str:
    """The glossary as a table; a term the notes do not use is marked so."""
    rows = [
        (
            Raw(
                f"<span style='font-size:15px'>{html.escape(t.zh)}</span>"
                + ("" if t.in_notes else " <span style='color:#777;font-size:11px'>(not in the notes)</span>")
            ),
            Raw(f"<i>{html.escape(t.pinyin)}</i>"),
            t.en,
            t.lesson,
        )
        for t in GLOSSARY
    ]
    return html_table(["the notes", "pinyin", "the course", "lesson"], rows, css="ul-glossary")
