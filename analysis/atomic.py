"""Outputs are written whole or not at all.

``atomic_dir(target)`` yields a fresh scratch directory beside ``target``; only when the block
finishes without error is the scratch directory swapped in place of ``target`` (two renames on
the same filesystem). On any error the scratch is removed and ``target`` is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _apply_umask(path: Path, directory: bool) -> None:
    """mkdtemp/mkstemp create private (0700/0600) entries; outputs get ordinary permissions."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_dir(target: Path, keep: tuple[str, ...] = ()):
    """Build a directory atomically. Files named in ``keep`` are carried over from the old
    ``target`` (e.g. outputs of other steps that share the folder) unless rewritten."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    _apply_umask(scratch, directory=True)
    try:
        yield scratch
        for name in keep:
            old = target / name
            if old.exists() and not (scratch / name).exists():
                if old.is_dir():
                    shutil.copytree(old, scratch / name)
                else:
                    shutil.copy2(old, scratch / name)
        backup = None
        if target.exists():
            backup = target.parent / f".{target.name}.old-{os.getpid()}"
            os.rename(target, backup)
        os.rename(scratch, target)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write one file whole or not at all (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        _apply_umask(Path(tmp), directory=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
