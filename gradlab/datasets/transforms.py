"""Image transforms, as ``torchvision.transforms`` has them.

    >>> tf = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    >>> x = tf(image)        # uint8 28x28 -> float32 1x28x28, normalised

An "image" here is what ``MNIST`` hands out (no PIL): a uint8 gradlab tensor
or NumPy array of shape H x W or H x W x C.  The transforms return gradlab
tensors (NumPy arrays if the Tensor class is not importable).
"""
import numpy as np

from ._tensors import is_tensor, requires_grad, to_numpy, to_tensor

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda", "Resize"]


class Compose:
    """Apply several transforms one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class ToTensor:
    """H x W (x C) image -> C x H x W tensor; uint8 is scaled to float32 [0, 1].

    As torchvision's for a NumPy image: a 2-d image gets a channel axis of 1,
    a 3-d one is taken as H x W x C and moved to C x H x W.  Only uint8 is
    rescaled (divided by 255); other dtypes keep their values.
    """

    def __call__(self, pic):
        if not (isinstance(pic, np.ndarray) or is_tensor(pic)):
            raise TypeError(f"pic should be an ndarray or a tensor image. Got {type(pic)}.")
        arr = to_numpy(pic)
        if arr.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {arr.ndim} dimensions.")
        chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if chw.dtype == np.uint8:
            out = np.empty(chw.shape, np.float32)  # C-contiguous
            np.divide(chw, np.float32(255), out=out)
        else:  # a fresh C-contiguous copy, never the caller's buffer
            out = np.array(chw, order="C", copy=True)
        return to_tensor(out)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Normalize:
    """``(image - mean) / std`` per channel of a float C x H x W (or ... x C x H x W) tensor."""

    def __init__(self, mean, std, inplace=False):
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor):
        arr = to_numpy(tensor)
        if arr.dtype.kind != "f":
            raise TypeError(f"Input tensor should be a float tensor. Got {arr.dtype}.")
        if arr.ndim < 3:
            raise ValueError(
                "Expected tensor to be a tensor image of size (..., C, H, W). "
                f"Got tensor.size() = {tuple(arr.shape)}."
            )
        mean = np.asarray(self.mean, dtype=arr.dtype)
        std = np.asarray(self.std, dtype=arr.dtype)
        if (std == 0).any():
            raise ValueError(
                f"std evaluated to zero after conversion to {arr.dtype}, leading to division by zero."
            )
        if mean.ndim == 1:
            mean = mean.reshape(-1, 1, 1)
        if std.ndim == 1:
            std = std.reshape(-1, 1, 1)

        if requires_grad(tensor):
            # Stay in the autograd graph: express it with tensor ops.
            m, s = to_tensor(mean), to_tensor(std)
            if self.inplace:
                return tensor.sub_(m).div_(s)
            return (tensor - m) / s
        if self.inplace:
            if is_tensor(tensor) and hasattr(tensor, "sub_"):
                return tensor.sub_(to_tensor(mean)).div_(to_tensor(std))
            np.subtract(arr, mean, out=arr)
            np.divide(arr, std, out=arr)
            return tensor if is_tensor(tensor) else to_tensor(arr)
        out = np.subtract(arr, mean)
        np.divide(out, std, out=out)
        return to_tensor(out)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Lambda:
    """Use a function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{type(self).__name__}()"



class Resize:
    """Resize an image's last two axes (H x W, or ... x H x W) with bilinear interpolation, as torchvision does
    on a tensor image: ``size`` (h, w), or an int that the smaller side becomes (the other keeps the aspect
    ratio).  Antialiased as torchvision's default: shrinking averages every input pixel under a triangle as
    wide as the scale; enlarging is plain bilinear.  uint8 images are rounded and stay uint8.
    """

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        if str(interpolation).lower().rsplit(".", 1)[-1] != "bilinear" or max_size is not None:
            raise NotImplementedError(f"Resize: gradlab has bilinear interpolation without max_size only, "
                                      f"got interpolation={interpolation!r}, max_size={max_size!r}")
        self.size, self.antialias = size, antialias

    def _out_size(self, h, w):
        size = self.size
        if isinstance(size, int) or len(size) == 1:
            short = size if isinstance(size, int) else size[0]
            return (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
        return int(size[0]), int(size[1])

    def __call__(self, img):
        arr = to_numpy(img)
        if arr.ndim < 2:
            raise ValueError(f"Resize: expected an image of shape (..., H, W), got shape {tuple(arr.shape)}")
        out_h, out_w = self._out_size(*arr.shape[-2:])
        rows = _triangle_matrix(arr.shape[-2], out_h, self.antialias)
        cols = _triangle_matrix(arr.shape[-1], out_w, self.antialias)
        out = np.matmul(np.matmul(rows, arr.astype(np.float64)), cols.T)
        if arr.dtype.kind in "ui":
            info = np.iinfo(arr.dtype)
            out = np.clip(np.round(out), info.min, info.max)
        return to_tensor(out.astype(arr.dtype))

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, interpolation=bilinear, max_size=None, " \
               f"antialias={self.antialias})"


def _triangle_matrix(n_in, n_out, antialias):
    """(n_out x n_in) weights: output pixel i averages the input pixels whose centres lie within ``support``
    of its centre, weighted by a triangle and normalised (at the edges too).  With support 1 this is
    bilinear interpolation with half-pixel centres; antialiasing widens it to the scale when shrinking."""
    scale = n_in / n_out
    support = max(scale, 1.0) if antialias else 1.0
    centres = (np.arange(n_out) + 0.5) * scale
    w = np.maximum(0.0, 1 - np.abs((np.arange(n_in) + 0.5)[None, :] - centres[:, None]) / support)
    return w / w.sum(axis=1, keepdims=True)
