"""Labs you predict before you run: each breaks one thing, asks what will happen, then measures it.

``LABS`` holds every lab by name. A lab's ``question`` and ``predict`` say what to guess, ``run(data)`` measures
on the digits of ``load_data()`` (a subset of MNIST: 10,000 training and 2,000 test digits) and returns a
``Result``, and ``compare``, ``explanation`` and ``look_for`` tell what the measurement means. The faces are the
labs notebook (``show.ask`` and ``show.reveal``) and ``glassnet learn lab [NAME]``.
"""

from glassnet.learn.labs import (
    adam_bias,
    backward_bug,
    batchnorm,
    bias_before_batchnorm,
    dropout_scale,
    eval_mode,
    init_scale,
    learning_rate,
    softmax_float16,
)
from glassnet.learn.labs.data import LabData, load_data, subset
from glassnet.learn.labs.lab import Choice, Lab, Number, Result

LABS: dict[str, Lab] = {lab.name: lab for lab in (
    eval_mode.LAB, dropout_scale.LAB, adam_bias.LAB, init_scale.LAB, learning_rate.LAB,
    bias_before_batchnorm.LAB, batchnorm.LAB, softmax_float16.LAB, backward_bug.LAB)}

__all__ = ["LABS", "Choice", "Lab", "LabData", "Number", "Result", "load_data", "subset"]
