"""What the gradlab train tests share: the repository root and an in-process run of the command."""
import os

from gradlab import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(capsys, *args):
    """``gradlab train ARGS`` in this process: (exit status, stdout, stderr)."""
    status = cli.main(["train", *args])
    out, err = capsys.readouterr()
    return status, out, err
