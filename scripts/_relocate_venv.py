"""Make a venv built in a DESTDIR tree run from where the tree will be unpacked.

    python scripts/_relocate_venv.py BUILT FINAL

`python -m venv` and pip write the venv's own path into it: the scripts' shebangs, `activate`
and its siblings, pyvenv.cfg's `command`, and the source path inside every .pyc. Built at
DIR/opt/talkbox/venv, such a tree cannot run once moved to /. This rewrites each text file
naming BUILT to name FINAL, compiles the modules for FINAL (install.sh has pip skip its own
compiling in a DESTDIR tree), and fails, naming the files, if anything still names BUILT.
Run it with the venv's own python, so the .pyc files are that interpreter's.
"""

from __future__ import annotations

import compileall
import os
import sys
from pathlib import Path


def main(built_arg: str, final: str) -> int:
    """Rewrite, compile, verify; 0 when nothing in the venv names the build path."""
    built = Path(os.path.abspath(built_arg))
    # venv records the absolute path it was given; a symlinked DESTDIR may show up resolved.
    names = sorted({str(built), str(built.resolve())}, key=len, reverse=True)
    old = [name.encode() for name in names]
    for path in built.rglob("*"):
        if path.is_symlink() or not path.is_file() or path.suffix == ".pyc":
            continue
        data = path.read_bytes()
        # Text only: a binary file naming the path is reported below, not patched blindly.
        if b"\0" in data or not any(name in data for name in old):
            continue
        for name in old:
            data = data.replace(name, final.encode())
        path.write_bytes(data)
    # lib64, where venv makes it, is a symlink to lib: each module is compiled once.
    for lib in sorted(built.glob("lib/python*/site-packages")):
        # Each module's recorded source path: FINAL/lib/... instead of BUILT/lib/...
        compiled = compileall.compile_dir(
            lib, quiet=1, force=True, stripdir=str(built), prependdir=final, workers=0
        )
        if not compiled:
            sys.stderr.write(f"relocate: compiling {lib} failed\n")
            return 1
    left = [
        str(path)
        for path in built.rglob("*")
        if path.is_file() and not path.is_symlink() and any(n in path.read_bytes() for n in old)
    ]
    if left:
        listed = "".join(f"\n  {name}" for name in left)
        sys.stderr.write(f"relocate: these files still name {built}:{listed}\n")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: python scripts/_relocate_venv.py BUILT FINAL\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
