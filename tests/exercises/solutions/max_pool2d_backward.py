import numpy as np


def max_pool2d_backward(g, x, kernel_size, stride):
    gx = np.zeros_like(x)
    k = kernel_size
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(g.shape[2]):
                for j in range(g.shape[3]):
                    window = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    gx[n, c, i * stride + a, j * stride + b] += g[n, c, i, j]
    return gx
