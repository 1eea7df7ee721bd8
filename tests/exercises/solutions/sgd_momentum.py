def sgd_momentum(p, grad, buf, lr, momentum):
    buf = momentum * buf + grad
    return p - lr * buf, buf
