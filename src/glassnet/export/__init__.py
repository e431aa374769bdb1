"""Exports of a trained model for other runtimes: ONNX (``onnx``)."""
