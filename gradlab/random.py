"""Random numbers: one global NumPy generator, reseeded by ``manual_seed``.

``Generator`` objects (``gradlab.Generator().manual_seed(0)``) give an
independent stream, as PyTorch's, e.g. for a DataLoader's shuffling.
"""
import numpy as np

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state",
           "default_generator", "generator_of"]


class Generator:
    def __init__(self, device="cpu"):
        self._seed = 67280421310721
        self.rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def seed(self):
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.rng = np.random.default_rng(self._seed)
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The state as a gradlab uint8 tensor (JSON of the bit generator's state)."""
        import json

        from ._tensor import Tensor
        state = {"seed": self._seed, "bit_generator": self.rng.bit_generator.state}
        return Tensor._wrap(np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy())

    def set_state(self, state):
        import json
        data = json.loads(bytes(np.asarray(state._data if hasattr(state, "_data") else state,
                                           dtype=np.uint8)).decode())
        self._seed = data["seed"]
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = data["bit_generator"]
        return self


default_generator = Generator()


def generator_of(generator):
    return (generator or default_generator).rng


def manual_seed(seed):
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)
