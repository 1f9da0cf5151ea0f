"""Outputs are written whole or not at all.

``atomic_dir(target)`` yields a fresh scratch directory beside ``target``; only when the block
finishes without error is the scratch directory swapped in place of ``target`` (two renames on
the same filesystem). On any error the scratch is removed and ``target`` is left as it was.

Scratch names carry the writer's process id (``.<name>.tmp-<pid>-<random>``, backups
``.<name>.old-<pid>``). A process killed with -9 cannot clean up, so ``sweep_stale(folder)``
(called before every atomic write into a folder, and by the CLI on the output roots) removes the
scratch entries of processes that no longer run; entries of a live process are never touched.
A backup whose target is missing (killed between the two renames) is put back instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

_SCRATCH = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)(-.*)?$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:   # exists, owned by someone else
        return True
    return True


def sweep_stale(folder: Path) -> list[Path]:
    """Remove scratch files/folders left in ``folder`` by processes that are gone; returns them."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _SCRATCH.match(p.name)
        if not m or _alive(int(m.group("pid"))):
            continue
        target = folder / m.group("name")
        try:
            if m.group("kind") == "old" and not target.exists() and not target.is_symlink():
                os.rename(p, target)   # killed between the two renames: the old output is restored
            elif p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except FileNotFoundError:
            continue                    # another process swept it first
        removed.append(p)
    return removed


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
    sweep_stale(target.parent)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
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
    sweep_stale(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
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
