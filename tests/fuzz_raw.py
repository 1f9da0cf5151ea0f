"""Property-based fuzzing of raw exports (issue 14): validate + derive, in-process.

Each example starts from the hand-made tiny cut (tests/fixtures/tiny_cut.py) and applies one to
three mutations drawn by hypothesis: a cell replaced by an adversarial value of any column type
(numbers with leading zeros, signs, exponents, beyond int64; impossible and partial dates;
control characters, terminal escapes, NUL, bidi overrides; whitespace; full-width digits;
formula prefixes; long text), a file re-encoded (Latin-1, UTF-16, BOM), re-delimited (; or tab),
re-quoted (every field quoted), CRLF line ends, a column dropped, a row duplicated or dropped, a
subject moved to another or unknown subject (cross-form relations), a death flag flipped, a
file truncated. The manifest is usually refreshed (so the value rules, not the checksum, must
catch the problem), sometimes left stale.

Property, for every export: EITHER validation rejects it (ValidationFailed, exit 3) and every
failure line names the file, the row (or the whole file), the column and the rule; OR
validation passes and derive succeeds, and the derived data agree with an independent reference
reading of the same bytes (Python's csv module): the set of trial subjects in ADSL, each AGE,
and each adverse event's term and grade in ADAE, in both the Parquet and the SAS transport file.
Anything else is a failure: an exception (a traceback, exit 1) or a silent change.

``python -m tests.fuzz_raw --examples 1000`` (``make fuzz-raw``) runs many and prints counts by
outcome; tests/test_fuzz_raw.py runs a modest number in ``make test``.
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from analysis import paths  # noqa: E402
from analysis.errors import BadDataError, ValidationFailed  # noqa: E402
from analysis.raw_spec import FORMS  # noqa: E402
from tests.fixtures import tiny_cut  # noqa: E402

CUT = tiny_cut.CUT
REJECTED, ACCEPTED, TRACEBACK, SILENT = "rejected (exit 3, file/row/column/rule named)", \
    "accepted, derived = reference", "TRACEBACK (exit 1)", "SILENT CHANGE"
DERIVE_REFUSED = "validated, then refused by derive (exit 3, dataset/variable/rule named)"
# A failure line: "<file>[ row N][ (SUBJ x)] <column>: <detail> [<rule>]", or a file-level
# "<file>: <problem> [<rule>]", or the "... and N more" continuation.
LINE = re.compile(r"^(?P<file>[\w.-]+\.(csv|json))(?: row \d+(?: \([A-Z]+ .*\))? (?P<column>[A-Z0-9_+()a-z]+):)?"
                  r".* \[(?P<rule>[a-z0-9_]+)\]$", re.S)

# --- mutations -------------------------------------------------------------------------------------------

ADVERSARIAL = st.one_of(
    st.sampled_from(["", " ", "  5", "5 ", "05", "+5", "-1", "5.0", "1e2", "1e400", "99999999999999999999",
                     "9007199254740993", "０５", "5\n", "5\x00", "\x1b[31m5", "2024-02-30", "2024-13-01", "2024-06",
                     "2024", "2023-12-31T00:00", "1900-01-01", "2099-01-01", "Y", "N", "y", "CR", "cr",
                     "CAR-T1", "=1+1", "@SUM(A1)", "-2+3", "01-001", "01-001 ", "01-00１", "99-999", "R0001",
                     "x" * 300, "a\u202eb", "a\u2028b", "NaN", "NULL", "NA", "inf", "-0", "\ufeff5", "é"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    st.integers(-10, 10 ** 20).map(str),
    st.dates().map(lambda d: d.isoformat()),
)


# Values that are (or may well be) VALID: the run must then be accepted and derive them exactly.
VALID_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cf", "Zl", "Zp", "Zs")),
                     min_size=1, max_size=30)
VALID_FOR = {
    "AGE": st.integers(14, 75).flatmap(lambda n: st.sampled_from([str(n), f"0{n}", f"+{n}"])),
    "AETOXGR": st.sampled_from(["1", "2", "3", "01", "02", "03", "+2"]),
    "AESEQ": st.integers(1, 9).flatmap(lambda n: st.sampled_from([str(n + 10), f"00{n + 10}"])),
    "AETERM": VALID_TEXT, "VISIT": VALID_TEXT, "INITIALS": VALID_TEXT,
    "WEIGHTKG": st.floats(30, 150).map(lambda x: f"{x:.6g}"),
    "DOSE": st.sampled_from(["5e6", "5E6", "5000000", "5000000.0", "0.5e7"]),
}


def _rows(data: bytes) -> tuple[list[str], list[list[str]]]:
    """Header and rows (each made as long as the header: earlier mutations may have broken it)."""
    r = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    return r[0], [(row + [""] * len(r[0]))[:len(r[0])] for row in r[1:]]


def _write(header, rows, **kw) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator=kw.pop("lineterminator", "\n"), **kw)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


@st.composite
def mutation(draw, files: dict[str, bytes]):
    """(description, function files -> files) of one mutation."""
    form = draw(st.sampled_from(sorted(FORMS)))
    name = FORMS[form].file
    try:
        header, rows = _rows(files[name])
    except (UnicodeDecodeError, IndexError):   # already re-encoded or emptied by an earlier mutation
        cut = draw(st.integers(0, len(files[name])))
        return f"{name} truncated at byte {cut}", {name: files[name][:cut]}
    kind = draw(st.sampled_from(["cell", "cell", "cell", "valid", "valid", "valid", "quote_all", "encoding", "delimiter", "quote_all", "crlf",
                                 "drop_column", "dup_row", "drop_row", "subject", "death_flag", "truncate"]))
    if kind == "cell" and rows:
        i, j = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(header) - 1))
        value = draw(ADVERSARIAL)
        rows = [list(r) for r in rows]
        rows[i][j] = value
        return f"{name} row {i + 1} {header[j]}={value!r}", {name: _write(header, rows)}
    if kind == "valid" and rows:
        cols = [c for c in header if c in VALID_FOR] or header
        col = draw(st.sampled_from(cols))
        i, j = draw(st.integers(0, len(rows) - 1)), header.index(col)
        value = draw(VALID_FOR.get(col, ADVERSARIAL))
        rows = [list(r) for r in rows]
        rows[i][j] = value
        return f"{name} row {i + 1} {col}={value!r} (plausible)", {name: _write(header, rows)}
    if kind == "encoding":
        enc = draw(st.sampled_from(["latin-1", "utf-16", "utf-8-sig", "cp1252"]))
        text = files[name].decode("utf-8").replace("low platelets", "plaquettes basses é").replace("CRS", "SRC é")
        return f"{name} encoded {enc}", {name: text.encode(enc, errors="replace")}
    if kind == "delimiter":
        d = draw(st.sampled_from([";", "\t", "|"]))
        return f"{name} delimiter {d!r}", {name: _write(header, rows, delimiter=d)}
    if kind == "quote_all":   # a valid CSV with the same values: must be accepted with the same data
        return f"{name} every field quoted", {name: _write(header, rows, quoting=csv.QUOTE_ALL)}
    if kind == "crlf":        # likewise valid
        return f"{name} CRLF line ends", {name: _write(header, rows, lineterminator="\r\n")}
    if kind == "drop_column":
        j = draw(st.integers(0, len(header) - 1))
        return f"{name} without {header[j]}", {name: _write(header[:j] + header[j + 1:],
                                                             [r[:j] + r[j + 1:] for r in rows])}
    if kind in ("dup_row", "drop_row") and rows:
        i = draw(st.integers(0, len(rows) - 1))
        new = rows + [rows[i]] if kind == "dup_row" else rows[:i] + rows[i + 1:]
        return f"{name} {kind} {i + 1}", {name: _write(header, new)}
    if kind == "subject" and rows and "SUBJID" in header:
        i, j = draw(st.integers(0, len(rows) - 1)), header.index("SUBJID")
        other = draw(st.sampled_from(["01-001", "01-002", "02-003", "03-999"]))
        rows = [list(r) for r in rows]
        rows[i][j] = other
        return f"{name} row {i + 1} moved to subject {other}", {name: _write(header, rows)}
    if kind == "death_flag":
        try:
            h, r = _rows(files["ds.csv"])
            r[0][h.index("DTHFL")]
        except (UnicodeDecodeError, IndexError, ValueError):
            return "ds.csv unchanged", {}
        i = draw(st.integers(0, len(r) - 1))
        r = [list(x) for x in r]
        r[i][h.index("DTHFL")] = "N" if r[i][h.index("DTHFL")] == "Y" else "Y"
        return f"ds.csv row {i + 1} DTHFL flipped", {"ds.csv": _write(h, r)}
    cut = draw(st.integers(1, max(1, len(files[name]) - 1)))
    return f"{name} truncated at byte {cut}", {name: files[name][:cut]}


@st.composite
def export(draw):
    """(descriptions, files, refresh manifest?) of one mutated tiny cut."""
    files = base_files()
    done = []
    for _ in range(draw(st.integers(1, 2))):
        what, changed = draw(mutation(files))
        try:
            files = {**files, **changed}
        except Exception:   # pragma: no cover
            continue
        done.append(what)
    return done, files, draw(st.booleans()) or draw(st.booleans())


_BASE: dict[str, bytes] = {}


def base_files() -> dict[str, bytes]:
    if not _BASE:
        with tempfile.TemporaryDirectory() as tmp:
            d = tiny_cut.write_tiny_cut(Path(tmp) / CUT)
            _BASE.update({p.name: p.read_bytes() for p in d.iterdir() if p.name.endswith(".csv")})
    return dict(_BASE)


# --- one export: run and judge ----------------------------------------------------------------------------

def write_cut(root: Path, files: dict[str, bytes], refresh: bool) -> Path:
    d = paths.raw_dir(CUT, root)
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name, data in files.items():
        (d / name).write_bytes(data)
    if refresh:
        tiny_cut.write_manifest(d)
    else:   # the manifest of the UNMUTATED export
        base = tempfile.mkdtemp()
        try:
            b = Path(base) / CUT
            b.mkdir()
            for name, data in base_files().items():
                (b / name).write_bytes(data)
            tiny_cut.write_manifest(b)
            shutil.copy(b / "manifest.json", d / "manifest.json")
        finally:
            shutil.rmtree(base)
    return d


def reference(files: dict[str, bytes]) -> dict:
    """What the bytes say, read with Python's csv module (independent of pandas and the package)."""
    def table(name):
        return list(csv.DictReader(io.StringIO(files[name].decode("utf-8"), newline="")))
    dm, ae = table("dm.csv"), table("ae.csv")
    return {"subjects": {r["SUBJID"] for r in dm},
            "age": {r["SUBJID"]: int(r["AGE"]) for r in dm},
            "ae": {(r["SUBJID"], int(r["AESEQ"])): (r["AETERM"], int(r["AETOXGR"])) for r in ae}}


def derived_view(folder: Path, suffix: str) -> dict:
    """The same facts as ``reference``, from the derived datasets written in ``suffix`` format."""
    from analysis.conventions import COHORT_EXTERNAL
    from analysis.regulatory.common import read_dataset
    sl, ae = read_dataset(folder / f"adsl.{suffix}"), read_dataset(folder / f"adae.{suffix}")
    trial = sl[sl["COHORT"].astype(str) != COHORT_EXTERNAL]
    subj = dict(zip(sl["USUBJID"].astype(str), sl["SUBJID"].astype(str)))
    return {"subjects": set(trial["SUBJID"].astype(str)),
            "age": {str(s): int(a) for s, a in zip(trial["SUBJID"], trial["AGE"])},
            "ae": {(subj[str(u)], int(q)): (str(t), int(g)) for u, q, t, g in
                   zip(ae["USUBJID"], ae["AESEQ"], ae["AETERM"], ae["ATOXGR"])}}


def run_one(files: dict[str, bytes], refresh: bool, root: Path, cache: dict) -> tuple[str, str]:
    """(outcome, detail) of one export, validated and derived in this process."""
    from analysis.derive.pipeline import derive_cut
    from validation.runner import validate_cut
    for sub in ("data", "reports"):
        shutil.rmtree(root / sub, ignore_errors=True)
    write_cut(root, files, refresh)
    try:
        validate_cut(CUT, root=root, cache=cache)
    except ValidationFailed as exc:
        bad = [ln for ln in exc.failures if not ln.startswith("  ... and ") and not LINE.match(ln)]
        return (REJECTED, "") if exc.failures and not bad else (SILENT, f"failure lines not naming file/rule: {bad[:3]}")
    except Exception:
        return TRACEBACK, traceback.format_exc(limit=8)
    try:
        folder = derive_cut(CUT, root)
    except BadDataError as exc:   # exit 3 with a message, not silent: counted apart, listed
        return DERIVE_REFUSED, str(exc).splitlines()[0][:300]
    except Exception:
        return TRACEBACK, traceback.format_exc(limit=8)
    try:
        want = reference(files)
    except Exception as exc:
        return SILENT, f"validated but the reference reader cannot read the bytes: {exc!r}"
    for suffix in ("parquet", "xpt"):
        got = derived_view(folder, suffix)
        for part in ("subjects", "age", "ae"):
            if got[part] != want[part]:
                return SILENT, f"{suffix} {part}: derived {sorted(got[part].items() if isinstance(got[part], dict) else got[part])[:4]} " \
                               f"!= reference {sorted(want[part].items() if isinstance(want[part], dict) else want[part])[:4]}"
    return ACCEPTED, ""


# --- driver -----------------------------------------------------------------------------------------------

def fuzz(examples: int, seed: int | None = None, report=print) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    problems: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="fuzz-raw-"))
    cache: dict = {}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed is None,
              suppress_health_check=list(HealthCheck), phases=(__import__("hypothesis").Phase.generate,))
    @given(export())
    def one(case):
        what, files, refresh = case
        outcome, detail = run_one(files, refresh, root, cache)
        counts[outcome] += 1
        if outcome in (TRACEBACK, SILENT, DERIVE_REFUSED):
            problems.append(f"{outcome}: {'; '.join(what)} (manifest {'refreshed' if refresh else 'stale'})\n{detail}")
            report(problems[-1])
        n = sum(counts.values())
        if n % 25 == 0:
            report(f"  {n} exports: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    try:
        one()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fuzz raw exports through validate + derive (issue 14)")
    ap.add_argument("--examples", type=int, default=1000)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    counts = fuzz(args.examples, report=lambda m: print(m, flush=True))
    total = sum(counts.values())
    print(f"\n{total} exports in {time.perf_counter() - t0:.0f} s, by outcome:")
    for outcome in (REJECTED, ACCEPTED, DERIVE_REFUSED, TRACEBACK, SILENT):
        print(f"  {counts.get(outcome, 0):6d}  {outcome}")
    return 1 if counts.get(TRACEBACK) or counts.get(SILENT) else 0


if __name__ == "__main__":
    sys.exit(main())
