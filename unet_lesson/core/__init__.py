"""The pure core: size arithmetic, the network's options and shapes, the model, and the operations a
student re-derives by hand. Imports neither matplotlib nor ipywidgets (``tests/test_layers.py``)."""
