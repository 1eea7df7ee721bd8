def matmul_backward(g, a, b):
    return g @ b.T, a.T @ g
