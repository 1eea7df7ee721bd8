import numpy as np


def conv2d_backward(g, x, w, stride, padding):
    n, cin, h, wd = x.shape
    cout, _, k, _ = w.shape
    ho, wo = g.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    gx = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]  # (n, cin, ho, wo)
            gw[:, :, i, j] = np.einsum("nohw,nchw->oc", g, patch)
            gx[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
    return gx[:, :, padding:padding + h, padding:padding + wd], gw
