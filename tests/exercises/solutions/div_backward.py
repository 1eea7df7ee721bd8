def div_backward(g, a, b):
    return g / b, -g * a / (b * b)
