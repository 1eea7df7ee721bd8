"""``python -m gradlab.ops > docs/ops.md`` writes the op index."""
from .registry import op_index

print(op_index(), end="")
