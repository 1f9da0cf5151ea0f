"""Changes between two data cuts: what a study team reads first on a new cut.

From the raw forms of both cuts (keys of analysis.raw_spec): subjects added, new events (deaths,
relapses, MRD recurrences, adverse events; relapses and deaths of the external control), and every
raw value changed for the same key (values of identifying columns withheld: nothing identifying
leaves raw). Where derived data exist for both cuts (the working build data/derived/<cut>/,
else the locked copy data/locked/<cut>/derived/; the summary names which): a record-level diff
of each dataset and the new ADTTE events. Where both ARDs exist: how each result moved. A locked cut whose raw export or outputs no
longer match its lock manifest is called out.

Tables (written to reports/<to-cut>/changes/<name>.csv, read back by ``load_changes``):
summary, subjects_added, events, raw_changes, derived_changes, ard_changes, locked_alerts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from analysis import ard, paths
from analysis.atomic import atomic_dir
from analysis.build import sha256_file
from analysis.conventions import MRD_THRESHOLD
from analysis.raw_io import read_form_text
from analysis.raw_spec import FORMS, IDENTIFIER_COLUMNS, Form
from analysis.regulatory import common

CHANGES_DIRNAME = "changes"
WITHHELD = "(identifier withheld)"  # a changed INITIALS / BRTHDTC / HOSPRN is listed, its values not
TABLES = ("summary", "subjects_added", "events", "raw_changes", "derived_changes", "ard_changes",
          "locked_alerts")
COLUMNS = {
    "summary": ["item", "value"],
    "subjects_added": ["cohort", "subject", "date", "detail"],
    "events": ["source", "event", "subject", "date", "detail"],
    "raw_changes": ["form", "key", "subject", "field", "old", "new", "change"],
    "derived_changes": ["dataset", "key", common.SUBJECT_VARIABLE, "variable", "old", "new", "change"],
    "ard_changes": [*common.ARD_KEYS, "old", "new", "delta", "status"],
    "locked_alerts": ["cut", "what", "file", "locked_sha256", "current_sha256"],
}


def _empty(name: str) -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS[name])


# --- raw ----------------------------------------------------------------------------------------

def _read_form(cut_dir: Path, form: Form) -> pd.DataFrame | None:
    return read_form_text(cut_dir, form) if (cut_dir / form.file).exists() else None


def _key_text(row: dict, key: tuple) -> str:
    return ", ".join(f"{k}={row[k]}" for k in key)


def raw_form_changes(old: pd.DataFrame | None, new: pd.DataFrame | None, form: Form) -> pd.DataFrame:
    """Rows added / removed and values changed in one form, joined on the form's key."""
    if old is None and new is None:
        return _empty("raw_changes")
    old = old if old is not None else pd.DataFrame(columns=new.columns)
    new = new if new is not None else pd.DataFrame(columns=old.columns)
    key = list(form.key)
    m = old.astype(object).merge(new.astype(object), on=key, how="outer", suffixes=("__old", "__new"),
                                 indicator=True)
    fields = [c for c in form.column_names if c not in key and c in old.columns and c in new.columns]
    rows = []
    for r in m.to_dict("records"):
        base = {"form": form.name, "key": _key_text(r, form.key), "subject": r.get(form.subject_column)}
        if r["_merge"] == "right_only":
            rows.append({**base, "field": "", "old": None, "new": None, "change": "record added"})
        elif r["_merge"] == "left_only":
            rows.append({**base, "field": "", "old": None, "new": None, "change": "record removed"})
        else:
            for f in fields:
                a, b = common.cell_text(r[f + "__old"]), common.cell_text(r[f + "__new"])
                if a != b:
                    rows.append({**base, "field": f, "old": a, "new": b, "change": "value changed"})
    return withhold_identifiers(pd.DataFrame(rows, columns=COLUMNS["raw_changes"]), IDENTIFIER_COLUMNS)


def withhold_identifiers(raw_changes: pd.DataFrame, identifier_columns) -> pd.DataFrame:
    """Raw value changes with the old/new values of directly identifying fields replaced by a
    marker: a changed INITIALS / BRTHDTC / HOSPRN is listed, its values never are."""
    out = raw_changes.copy()
    mask = out["field"].isin(list(identifier_columns))
    out.loc[mask & out["old"].notna(), "old"] = WITHHELD
    out.loc[mask & out["new"].notna(), "new"] = WITHHELD
    return out


def _new_rows(old: pd.DataFrame | None, new: pd.DataFrame | None, key: tuple) -> pd.DataFrame:
    if new is None:
        return pd.DataFrame()
    if old is None or old.empty:
        return new
    seen = set(map(tuple, old[list(key)].astype(str).values))
    mask = [tuple(v) not in seen for v in new[list(key)].astype(str).values]
    return new[mask]


def _mrd_positive(row: dict) -> bool:
    """MRD-positive by the SAP 4.1 threshold of its method (conventions.MRD_THRESHOLD)."""
    if row.get("MRDUND") == "Y":
        return False
    level = common.as_number(row.get("MRDLEVEL"))
    return level is not None and level >= MRD_THRESHOLD[row["METHOD"]]


def mrd_recurrences(mrd: pd.DataFrame | None) -> pd.DataFrame:
    """MRD recurrences: a positive sample following a negative one (same subject and method)."""
    if mrd is None or mrd.empty:
        return mrd.iloc[0:0] if mrd is not None else pd.DataFrame()
    out = []
    for _, g in mrd.sort_values(["SUBJID", "METHOD", "MRDDTC"]).groupby(["SUBJID", "METHOD"], sort=True):
        prev_negative = False
        for r in g.to_dict("records"):
            pos = _mrd_positive(r)
            if pos and prev_negative:
                out.append(r)
            prev_negative = not pos
    return pd.DataFrame(out, columns=mrd.columns)


def raw_events(old: dict[str, pd.DataFrame | None], new: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Events in the new cut that the old cut did not have, from the raw forms."""
    ev: list[dict] = []

    def add(event, subject, date, detail):
        ev.append({"source": "raw", "event": event, "subject": subject, "date": date, "detail": detail})

    ds_old, ds_new = old.get("ds"), new.get("ds")
    if ds_new is not None:
        died_before = set() if ds_old is None else set(ds_old.loc[ds_old["DTHFL"] == "Y", "SUBJID"])
        for r in ds_new[ds_new["DTHFL"] == "Y"].to_dict("records"):
            if r["SUBJID"] not in died_before:
                add("death", r["SUBJID"], r.get("DTHDTC"), f"cause: {r.get('DTHCAUS')}")
    for r in _new_rows(old.get("rs"), new.get("rs"), FORMS["rs"].key).to_dict("records"):
        if r["RSORRES"] == "RELAPSE":
            add("relapse", r["SUBJID"], r["RSDTC"], f"visit {r.get('VISIT')}, marrow blasts {r.get('BMBLAST')}%")
    rec_new = mrd_recurrences(new.get("mrd"))
    for r in _new_rows(mrd_recurrences(old.get("mrd")), rec_new, FORMS["mrd"].key).to_dict("records"):
        add("MRD recurrence", r["SUBJID"], r["MRDDTC"], f"{r['METHOD']} level {r.get('MRDLEVEL')}")
    for r in _new_rows(old.get("ae"), new.get("ae"), FORMS["ae"].key).to_dict("records"):
        term = r["AEDECOD"] if common.cell_text(r.get("AEDECOD")) else f"'{r.get('AETERM')}' (not yet coded)"
        add("adverse event", r["SUBJID"], r["AESTDTC"],
            f"{term} grade {r['AETOXGR']}" + (" (serious)" if r.get("AESER") == "Y" else ""))
    ext_old, ext_new = old.get("ext"), new.get("ext")
    if ext_new is not None:
        before = {} if ext_old is None else ext_old.set_index("PATID")[["RELDTC", "DTHDTC"]].to_dict("index")
        for r in ext_new.to_dict("records"):
            was = before.get(r["PATID"], {})
            for col, name in (("RELDTC", "relapse (external control)"), ("DTHDTC", "death (external control)")):
                if common.cell_text(r.get(col)) and not common.cell_text(was.get(col)):
                    add(name, r["PATID"], r[col], "")
    return pd.DataFrame(ev, columns=COLUMNS["events"])


def subjects_added(old: dict[str, pd.DataFrame | None], new: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    rows = []
    for form, cohort, date_col in (("dm", "trial", "ENRLDTC"), ("ext", "external control", "HSCTDTC")):
        subj = FORMS[form].subject_column
        n = new.get(form)
        if n is None:
            continue
        o = old.get(form)
        before = set() if o is None else set(o[subj])
        for r in n[~n[subj].isin(before)].to_dict("records"):
            rows.append({"cohort": cohort, "subject": r[subj], "date": r.get(date_col),
                         "detail": f"{date_col}={r.get(date_col)}"})
    return pd.DataFrame(rows, columns=COLUMNS["subjects_added"])


def read_raw_cut(cut: str, root: Path | None) -> dict[str, pd.DataFrame | None]:
    d = paths.raw_dir(cut, root)
    return {name: _read_form(d, f) for name, f in FORMS.items()}


# --- derived / ARD ------------------------------------------------------------------------------------

# Cuts are compared on the Parquet copies: exact values and real dates. pandas' XPORT reader
# turns an exact 0 into ~5e-79 (IBM float conversion), so CNSR = 0 was never seen as an event.
COMPARE_FORMATS = (".parquet", ".xpt", ".csv")
# Every ADaM submission has ADSL: a folder without it holds no ADaM datasets, whatever other
# dataset-like files (the locked ard.csv, say) it has.
ADAM_SUBJECT_LEVEL = "adsl"


def holds_adam_datasets(folder: Path) -> bool:
    return ADAM_SUBJECT_LEVEL in common.derived_datasets(folder, COMPARE_FORMATS)


def derived_folder(cut: str, root: Path | None) -> Path | None:
    """The ADaM datasets of a cut: the working build data/derived/<cut>/ if it holds them, else the
    locked copy data/locked/<cut>/derived/ (never the locked folder itself: it holds the ARD)."""
    for folder in (paths.derived_dir(cut, root), common.locked_derived_dir(cut, root)):
        if holds_adam_datasets(folder):
            return folder
    return None


def ard_path(cut: str, root: Path | None) -> Path | None:
    """The ARD of a cut: the working one (reports/<cut>/ard.csv), else the locked copy."""
    for p in (paths.report_dir(cut, root) / common.ARD_FILE, common.locked_dir(cut, root) / common.ARD_FILE):
        if p.exists():
            return p
    return None


def source_text(path: Path | None, cut: str, root: Path | None) -> str:
    """Where a compared input came from, for the change report: its path in the project and
    whether it is the working build or the locked copy."""
    if path is None:
        return "not available"
    kind = "locked copy" if path.is_relative_to(common.locked_dir(cut, root)) else "working build"
    rel = path.relative_to(root or paths.ROOT).as_posix()
    return f"{rel}{'/' if path.is_dir() else ''} ({kind})"


def derived_changes(old_dir: Path | None, new_dir: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Record-level changes of every derived dataset, and the ADTTE events new in the later cut
    (a parameter whose CNSR went from censored to event, or a new record that is an event)."""
    if old_dir is None or new_dir is None:
        return _empty("derived_changes"), _empty("events")
    old_sets, new_sets = (common.derived_datasets(d, COMPARE_FORMATS) for d in (old_dir, new_dir))
    spec = common.read_spec(new_dir)
    parts, events = [], []
    for name in sorted(set(old_sets) | set(new_sets)):
        if name not in old_sets or name not in new_sets:
            parts.append(pd.DataFrame([{"dataset": name.upper(), "key": "", common.SUBJECT_VARIABLE: None,
                                        "variable": "", "old": "present" if name in old_sets else None,
                                        "new": "present" if name in new_sets else None,
                                        "change": "dataset added" if name in new_sets else "dataset removed"}]))
            continue
        o, n = common.read_dataset(old_sets[name]), common.read_dataset(new_sets[name])
        keys = common.dataset_keys(spec, name, n)
        d = common.diff_records(o, n, keys, name.upper())
        parts.append(d)
        if name == "adtte" and {"PARAMCD", "CNSR"} <= set(n.columns):
            events.append(_adtte_events(o, n))
    changes = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(
        not p.empty for p in parts) else _empty("derived_changes")
    ev = pd.concat(events, ignore_index=True) if events else _empty("events")
    return changes[COLUMNS["derived_changes"]], ev


def _adtte_events(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    key = [common.SUBJECT_VARIABLE, "PARAMCD"]
    o = old[key + ["CNSR"]].astype(object).map(common.cell_text)
    n = new[[c for c in (*key, "CNSR", "ADT", "EVNTDESC") if c in new.columns]].astype(object).map(common.cell_text)
    m = n.merge(o, on=key, how="left", suffixes=("", "_old"))
    hits = m[(m["CNSR"] == "0") & (m["CNSR_old"] != "0")]
    rows = [{"source": "ADTTE", "event": f"{r['PARAMCD']} event", "subject": r[common.SUBJECT_VARIABLE],
             "date": r.get("ADT"), "detail": r.get("EVNTDESC") or ""} for r in hits.to_dict("records")]
    return pd.DataFrame(rows, columns=COLUMNS["events"])


def ard_changes(old_path: Path | None, new_path: Path | None) -> pd.DataFrame:
    if old_path is None or new_path is None:
        return _empty("ard_changes")
    return common.diff_ard(common.read_ard(old_path), common.read_ard(new_path))[COLUMNS["ard_changes"]]


# --- locked cuts ----------------------------------------------------------------------------------

def locked_alerts(cut: str, root: Path | None) -> pd.DataFrame:
    """Differences between a locked cut's manifest and what is on disk now: its raw export, and
    its working outputs (data/derived/<cut>/, reports/<cut>/ard.csv) where they exist."""
    manifest = common.lock_manifest(cut, root)
    if manifest is None:
        return _empty("locked_alerts")
    rows = []
    raw_dir = paths.raw_dir(cut, root)
    locked_raw = manifest.get("raw", {})
    now_raw = {p.name: sha256_file(p) for p in sorted(raw_dir.iterdir()) if p.is_file()} if raw_dir.is_dir() else {}
    for f in sorted(set(locked_raw) | set(now_raw)):
        if locked_raw.get(f) != now_raw.get(f):
            rows.append({"cut": cut, "what": "raw export changed after lock", "file": f"data/raw/{cut}/{f}",
                         "locked_sha256": locked_raw.get(f), "current_sha256": now_raw.get(f)})
    for rel, locked in sorted(manifest.get("outputs", {}).items()):
        p = common.working_path(rel, cut, root)
        if p is None or not p.exists():
            continue
        now = sha256_file(p)
        if locked != now:
            rows.append({"cut": cut, "what": "rebuilt output differs from the locked one",
                         "file": p.relative_to(root or paths.ROOT).as_posix(), "locked_sha256": locked,
                         "current_sha256": now})
    return pd.DataFrame(rows, columns=COLUMNS["locked_alerts"])


# --- the whole comparison ---------------------------------------------------------------------------

def compare_cuts(from_cut: str, to_cut: str, root: Path | None = None) -> dict[str, pd.DataFrame]:
    """All change tables between ``from_cut`` (earlier) and ``to_cut`` (later)."""
    old, new = read_raw_cut(from_cut, root), read_raw_cut(to_cut, root)
    raw = [raw_form_changes(old[n], new[n], f) for n, f in FORMS.items()]
    raw = [r for r in raw if not r.empty]
    t: dict[str, pd.DataFrame] = {
        "subjects_added": subjects_added(old, new),
        "raw_changes": pd.concat(raw, ignore_index=True) if raw else _empty("raw_changes"),
    }
    folders = derived_folder(from_cut, root), derived_folder(to_cut, root)
    found_ards = {"from cut": ard_path(from_cut, root), "to cut": ard_path(to_cut, root)}
    # an ARD written in another schema (a lock older than the current shape) is not compared
    # result by result; the sources line says why
    other_schema = {label: (p, ard.schema_of(p)) for label, p in found_ards.items() if p is not None}
    other_schema = {label: pv for label, pv in other_schema.items() if pv[1] != ard.ARD_SCHEMA_VERSION}
    ards = tuple(None if label in other_schema else p for label, p in found_ards.items())
    dchg, dev = derived_changes(*folders)
    rev = raw_events(old, new)
    t["events"] = pd.concat([x for x in (rev, dev) if not x.empty], ignore_index=True) if not (
        rev.empty and dev.empty) else _empty("events")
    t["derived_changes"] = dchg
    t["ard_changes"] = ard_changes(*ards)
    alerts = [locked_alerts(c, root) for c in (from_cut, to_cut)]
    alerts = [a for a in alerts if not a.empty]
    t["locked_alerts"] = pd.concat(alerts, ignore_index=True) if alerts else _empty("locked_alerts")
    sources = {f"{what} of {label}": source_text(p, c, root)
               for what, found in (("derived data", folders), ("ARD", ards))
               for label, c, p in (("from cut", from_cut, found[0]), ("to cut", to_cut, found[1]))}
    for label, (p, version) in other_schema.items():
        sources[f"ARD of {label}"] = (f"{p.relative_to(root or paths.ROOT).as_posix()}: ARD schema version {version}, "
                                      f"not comparable with version {ard.ARD_SCHEMA_VERSION} (re-lock the cut)")
    t["summary"] = summarise(from_cut, to_cut, t, root, derived_available=None not in folders,
                             ard_available=None not in ards, sources=sources)
    return {name: t[name] for name in TABLES}


def summarise(from_cut: str, to_cut: str, t: dict[str, pd.DataFrame], root: Path | None,
              derived_available: bool = True, ard_available: bool = True,
              sources: dict[str, str] | None = None) -> pd.DataFrame:
    """The summary table; ``sources`` ({"derived data of from cut": "data/locked/...", ...}) says
    which folder / file each compared input was read from."""
    ev = t["events"]
    raw_ev = ev[ev["source"] == "raw"] if not ev.empty else ev
    rc = t["raw_changes"]
    ard = t["ard_changes"]
    items = [
        ("from cut", from_cut), ("to cut", to_cut),
        ("from cut locked", "yes" if common.is_locked(from_cut, root) else "no"),
        ("subjects added (trial)", int((t["subjects_added"]["cohort"] == "trial").sum())),
        ("subjects added (external control)", int((t["subjects_added"]["cohort"] == "external control").sum())),
    ]
    for name in ("death", "relapse", "MRD recurrence", "adverse event", "relapse (external control)",
                 "death (external control)"):
        items.append((f"new events: {name}", int((raw_ev["event"] == name).sum()) if not raw_ev.empty else 0))
    items += [
        ("raw records added", int((rc["change"] == "record added").sum())),
        ("raw records removed", int((rc["change"] == "record removed").sum())),
        ("raw values changed (same key)", int((rc["change"] == "value changed").sum())),
    ]
    items += list((sources or {}).items())
    na = "not compared (derived data of both cuts needed)"
    items.append(("derived differences", len(t["derived_changes"]) if derived_available else na))
    na = "not compared (ARD of both cuts needed)"
    for label, status in (("changed", "changed"), ("added", "added"), ("removed", "removed")):
        items.append((f"ARD results {label}", int((ard["status"] == status).sum()) if ard_available else na))
    items += [
        ("ARD results compared", len(ard) if ard_available else na),
        ("LOCKED-cut alerts", len(t["locked_alerts"])),
    ]
    return pd.DataFrame([{"item": k, "value": str(v)} for k, v in items], columns=COLUMNS["summary"])


# --- output ---------------------------------------------------------------------------------------

def changes_dir(cut: str, root: Path | None = None) -> Path:
    return paths.report_dir(cut, root) / CHANGES_DIRNAME


# OWASP "CSV injection": a cell starting with = + - @ (or tab / CR) is run as a formula when the
# file is opened in a spreadsheet. Such cells are written with a leading apostrophe (shown as
# text); a plain number ("-0.5", "+3") cannot be a formula and is left alone. A cell that already
# starts with an apostrophe gets one more, so ``from_spreadsheet_safe`` restores every value exactly.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"\A[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


def spreadsheet_safe(value):
    if not isinstance(value, str) or not value:
        return value
    if value.startswith("'") or (value.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(value)):
        return "'" + value
    return value


def from_spreadsheet_safe(value):
    return value[1:] if isinstance(value, str) and value.startswith("'") else value


def write_changes(cut: str, tables: dict[str, pd.DataFrame], root: Path | None = None) -> Path:
    """Write every table to reports/<cut>/changes/<name>.csv, all or nothing; text cells are made
    spreadsheet-safe (``spreadsheet_safe``; the ARD itself is never altered)."""
    target = changes_dir(cut, root)
    with atomic_dir(target) as tmp:
        for name in TABLES:
            table = tables.get(name, _empty(name)).astype(object).map(spreadsheet_safe)
            table.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n")
    return target


def load_changes(cut: str, root: Path | None = None) -> dict[str, pd.DataFrame]:
    """The change tables of ``cut`` versus the cut before it, as written by the pipeline's
    'changes' step: {'summary', 'subjects_added', 'events', 'raw_changes', 'derived_changes',
    'ard_changes', 'locked_alerts'} -> DataFrame (values as text, 'delta' numeric). Empty tables
    (with their columns) when the cut is the first one."""
    folder = changes_dir(cut, root)
    out = {}
    for name in TABLES:
        p = folder / f"{name}.csv"
        if not p.exists():
            raise FileNotFoundError(f"{p} missing: run `python -m analysis changes --cut {cut}`")
        dtypes = {c: str for c in COLUMNS[name] if c != "delta"}
        df = pd.read_csv(p, dtype=dtypes, keep_default_na=False, na_values=[""])
        text = [c for c in df.columns if c in dtypes]
        df[text] = df[text].astype(object).map(from_spreadsheet_safe)
        out[name] = df
    return out


def changes_step(cut: str, root: Path | None = None) -> None:
    """Pipeline step: changes of ``cut`` since the previous cut (empty tables for the first)."""
    prev = paths.previous_cut(cut, root)
    if prev is None:
        tables = {name: _empty(name) for name in TABLES}
        tables["summary"] = pd.DataFrame([{"item": "from cut", "value": "none (first data cut)"},
                                          {"item": "to cut", "value": cut}])
    else:
        tables = compare_cuts(prev, cut, root)
    write_changes(cut, tables, root)


def listing(tables: dict[str, pd.DataFrame], max_rows: int = 40) -> str:
    """Readable terminal listing of the change tables."""
    lines = []
    s = tables["summary"]
    lines.append("== Summary")
    lines += [f"  {r['item']:<40s} {r['value']}" for r in s.to_dict("records")]
    sections = (("locked_alerts", "!! LOCKED CUT CHANGED"), ("subjects_added", "Subjects added"),
                ("events", "New events"), ("raw_changes", "Raw values changed / records added or removed"),
                ("derived_changes", "Derived data differences"), ("ard_changes", "ARD results that moved"))
    for name, title in sections:
        df = tables[name]
        if name == "ard_changes" and not df.empty:
            df = df[df["status"] != "same"]
        if df.empty:
            continue
        lines.append(f"\n== {title} ({len(df)})")
        with pd.option_context("display.width", 200, "display.max_colwidth", 60):
            lines.append(df.head(max_rows).to_string(index=False))
        if len(df) > max_rows:
            lines.append(f"  ... {len(df) - max_rows} more rows in {name}.csv")
    return "\n".join(lines)
