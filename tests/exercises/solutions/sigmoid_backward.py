import numpy as np


def sigmoid_backward(g, x):
    out = 1 / (1 + np.exp(-x))
    return (g * out * (1 - out),)
