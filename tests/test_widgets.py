"""The widget framework: views never raise into the widget, errors hide figures, updates never interleave."""

import threading
import time

import ipywidgets as W
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from unet_lesson import conv_out  # noqa: E402
from unet_lesson.ui.widgets import View, error_view, live, one_at_a_time, safe_view  # noqa: E402


def conv_view(size=572, kernel=3):
    f = conv_out.explain(size, kernel)
    fig, ax = plt.subplots(figsize=(1, 1))
    return View(html=f"<code>{f}</code>", figure=fig, data={"output": f.result})


def test_safe_view_turns_errors_into_messages():
    assert safe_view(conv_view, size=2).error.startswith("A 2-pixel map")
    assert "Unexpected problem (KeyError" in safe_view(lambda: {}["x"]).error
    assert safe_view(lambda: "plain").html == "plain"
    assert error_view("no", extra=1).data == {"extra": 1}


def test_live_shows_numbers_and_hides_the_figure_on_error():
    controls = {"size": W.IntText(572), "kernel": W.IntText(3)}
    box = live(conv_view, controls, css="ul-test")
    html, image = box.children[1], box.children[2]
    assert "data-ul-output='570'" in html.value and image.layout.display is None
    assert "ul-test" in box._dom_classes and "ul-test-size" in controls["size"]._dom_classes
    controls["size"].value = 2
    assert "ul-error" in html.value and image.layout.display == "none"
    assert controls["size"].value == 2  # what the student typed is kept
    controls["size"].value = 10
    assert "data-ul-output='8'" in html.value and image.layout.display is None


def test_one_at_a_time_serialises_callbacks():
    serial = one_at_a_time()
    active, overlaps = [0], []

    @serial
    def work():
        active[0] += 1
        overlaps.append(active[0])
        time.sleep(0.01)
        active[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1] * 8

    @serial
    def outer():  # re-entrant: an update may call another update of the same widget
        return work() or "ok"

    assert outer() == "ok"


def test_seeded_is_reproducible_and_leaves_the_global_rng_alone():
    import torch

    from unet_lesson.core.env import seeded
    from unet_lesson.lessons import l01_convolution_sizes as conv

    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with seeded(0):
        a = torch.rand(2)
    with seeded(0):
        b = torch.rand(2)
    assert torch.equal(a, b)
    conv.many_kernels_view(size=32, kernels=4)  # a lesson demo seeds its own layers...
    assert torch.equal(torch.rand(3), expected_next)  # ...and the student's stream goes on untouched
