"""A rule = one Great Expectations expectation plus what a person needs to read its failures.

Every rule names the raw file whose rows it reports, the column it is about, a plain statement of
the rule for the report, and a function that words a failing row (value and reason). The
expectation does the checking; the rest only explains the result. Constructors below cover the
rule kinds used by the per-form and cross-form suites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import great_expectations as gx
import pandas as pd
from great_expectations.expectations.row_conditions import Column as Col
from great_expectations.expectations.row_conditions import Condition

from analysis.messages import CONTROL, CONTROL_LITERAL, WHITESPACE_LITERAL, printable
from analysis.regulatory.compare import WITHHELD  # one marker for a withheld identifier, everywhere
from validation.frames import full_match, hi, key, lo, num

EMPTY = "(empty)"

Detail = Callable[[pd.Series], str]


@dataclass
class Rule:
    """One expectation of a suite with its reporting context."""
    file: str                      # raw file whose rows are reported, e.g. "dm.csv"
    column: str                    # column the failure line names, e.g. "AGE" or "SUBJID+AESEQ"
    statement: str                 # the rule in words, for the report
    expectation: gx.expectations.Expectation | None  # None: a custom check (file, manifest)
    detail: Detail | None = None   # failing row -> "212 not in [14, 75]"; None for table-level rules
    needs: tuple[str, ...] = ()    # raw columns that must exist in the file for the rule to run
    id: str = ""                   # set by the suite: "<suite>#<n>", carried in the expectation meta
    table_detail: Callable[[dict], list[str]] | None = None  # table-level result -> problems
    custom: str = ""               # name of a custom (non-GX) check, shown in place of the GX type
    reported_as: str = ""          # the GX type shown when the expectation computes a GX one differently

    @property
    def expectation_type(self) -> str:
        if self.reported_as:
            return self.reported_as
        return self.expectation.expectation_type if self.expectation is not None else self.custom


@dataclass
class Suite:
    """The rules of one suite and the frame they run on."""
    name: str                      # "raw.dm", "raw.dm.structure", "cross.cart"
    title: str
    frame: pd.DataFrame | None     # None: not evaluated (see skipped)
    subject_column: str | None
    rules: list[Rule] = field(default_factory=list)
    skipped: str | None = None     # why the suite could not run (e.g. its file is unreadable)
    missing_columns: tuple[str, ...] = ()

    def add(self, rule: Rule) -> Rule:
        rule.id = f"{self.name}#{len(self.rules) + 1}"
        self.rules.append(rule)
        return rule


# --- how values are shown ------------------------------------------------------------------------

def shown(row: pd.Series, col: str, identifiers: frozenset[str] = frozenset()) -> str:
    """A cell as text for a failure line; identifying columns are never shown (they must not
    reach reports or logs)."""
    if col in identifiers:
        return WITHHELD
    value = row.get(col)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return EMPTY
    return printable(value)   # a raw value never carries a control character into a message


def _fmt_bound(x: float) -> str:
    return f"{x:g}"


def interval_text(min_value, max_value, strict_max: bool = False) -> str:
    lo_b = "-inf" if min_value is None else _fmt_bound(min_value)
    hi_b = "inf" if max_value is None else _fmt_bound(max_value)
    return f"[{lo_b}, {hi_b}{')' if strict_max else ']'}"


def codes_text(codes) -> str:
    return "{" + ", ".join(str(c) for c in codes) + "}"


# --- rule constructors -----------------------------------------------------------------------------
E = gx.expectations


def required(file: str, col: str, ids=frozenset()) -> Rule:
    return Rule(file, col, f"{col} is required", E.ExpectColumnValuesToNotBeNull(column=col),
                lambda r: "empty, a value is required", needs=(col,))


def number_text(file: str, col: str, kind: str, pattern: str = "", ids=frozenset()) -> Rule:
    """The text is a number of ``kind`` (whole value) that the pipeline can hold exactly: the typed
    helper column (validation.frames.typed_number) is null exactly when it is not."""
    word = "an integer with |n| < 2^53" if kind == "int" else "a finite number"
    return Rule(file, col, f"{col} is {word}",
                E.ExpectColumnValuesToNotBeNull(column=num(col), row_condition=Col(col).is_not_null()),
                lambda r: f"{shown(r, col, ids)} is not {word}", needs=(col,))


# leading or trailing whitespace (str.isspace), or a control character anywhere (RE2-compatible)
CLEAN_TEXT_VIOLATION = rf"\A[{WHITESPACE_LITERAL}]|[{WHITESPACE_LITERAL}]\Z|[{CONTROL_LITERAL}]"


def text_clean(file: str, col: str, ids=frozenset()) -> Rule:
    """No control character anywhere, no leading or trailing whitespace (so a whitespace-only
    value, which only looks empty, fails too)."""
    def detail(r):
        value = r.get(col)
        text = value if isinstance(value, str) else ""
        if text and not text.strip():
            what = "is blank (whitespace only): leave the cell empty or give a value"
        elif CONTROL.search(text):
            what = "contains the control character " + repr(CONTROL.search(text).group(0)).strip("'")
        else:
            what = "has leading or trailing whitespace"
        return f"{shown(r, col, ids)} {what}"
    return Rule(file, col, f"{col} has no control character and no leading/trailing whitespace",
                E.ExpectColumnValuesToNotMatchRegex(column=col, regex=CLEAN_TEXT_VIOLATION),
                detail, needs=(col,))


def equals(col: str, value, numeric: bool):
    """Row condition "``col`` is ``value``" on the NORMALISED value: a number column compares its
    typed helper column (so "05" is 5), never the text."""
    return Col(num(col)) == float(value) if numeric else Col(col) == value


def date_text(file: str, col: str, partial: bool, ids=frozenset()) -> Rule:
    form_ = "YYYY-MM-DD or YYYY-MM (a missing month is invalid)" if partial else "YYYY-MM-DD"
    return Rule(file, col, f"{col} is a valid date {form_}",
                E.ExpectColumnValuesToNotBeNull(column=lo(col), row_condition=Col(col).is_not_null()),
                lambda r: f"{shown(r, col, ids)} is not a valid date {form_}", needs=(col,))


def in_codes(file: str, col: str, codes, numeric: bool, ids=frozenset()) -> Rule:
    target = num(col) if numeric else col
    return Rule(file, col, f"{col} in {codes_text(codes)}",
                E.ExpectColumnValuesToBeInSet(column=target, value_set=list(codes)),
                lambda r: f"{shown(r, col, ids)} not in {codes_text(codes)}", needs=(col,))


def in_range(file: str, col: str, min_value, max_value, ids=frozenset(), strict_max=False,
             where: Condition | None = None, why: str = "") -> Rule:
    iv = interval_text(min_value, max_value, strict_max)
    return Rule(file, col, f"{col} in {iv}{why}",
                E.ExpectColumnValuesToBeBetween(column=num(col), min_value=min_value, max_value=max_value,
                                                strict_max=strict_max, row_condition=where),
                lambda r: f"{shown(r, col, ids)} not in {iv}{why}", needs=(col,))


def matches(file: str, col: str, pattern: str, ids=frozenset()) -> Rule:
    """The WHOLE value matches ``pattern`` (validation.frames.full_match)."""
    return Rule(file, col, f"{col} matches {pattern} (whole value)",
                E.ExpectColumnValuesToMatchRegex(column=col, regex=full_match(pattern)),
                lambda r: f"{shown(r, col, ids)} does not match {pattern}", needs=(col,))


def unique_key(file: str, key_cols: tuple[str, ...], ids=frozenset()) -> Rule:
    """Unique on the NORMALISED key (validation.frames.key): "05"/"5" and "01-001"/"01-001 "
    are the same key."""
    name = "+".join(key_cols)
    exp = (E.ExpectColumnValuesToBeUnique(column=key(key_cols[0])) if len(key_cols) == 1
           else E.ExpectCompoundColumnsToBeUnique(column_list=[key(k) for k in key_cols]))
    return Rule(file, name, f"{name} identifies a row uniquely (compared normalised)", exp,
                lambda r: "duplicate key " + ", ".join(f"{k}={shown(r, k, ids)}" for k in key_cols), needs=key_cols)


def not_after_cut(file: str, col: str, cut_date: str, ids=frozenset()) -> Rule:
    return Rule(file, col, f"{col} on or before the cut date {cut_date}",
                E.ExpectColumnValuesToBeBetween(column=lo(col), max_value=pd.Timestamp(cut_date)),
                lambda r: f"{shown(r, col, ids)} is after the cut date {cut_date}", needs=(col,))


def empty_when(file: str, col: str, where: Condition, when_text: str, ids=frozenset()) -> Rule:
    return Rule(file, col, f"{col} is empty when {when_text}", E.ExpectColumnValuesToBeNull(column=col, row_condition=where),
                lambda r: f"{shown(r, col, ids)} given although {when_text} (must be empty)", needs=(col,))


def present_when(file: str, col: str, where: Condition, when_text: str) -> Rule:
    return Rule(file, col, f"{col} is present when {when_text}",
                E.ExpectColumnValuesToNotBeNull(column=col, row_condition=where),
                lambda r: f"empty although {when_text} (required)", needs=(col,))


@dataclass(frozen=True)
class DateRef:
    """A date column of the check frame (``base`` text with ``base__lo/__hi``) and how to name it."""
    base: str
    label: str


def on_or_after(file: str, column: str, later: DateRef, earlier: DateRef, strict: bool = False,
                where: Condition | None = None, why: str = "", needs: tuple[str, ...] = ()) -> Rule:
    """``later`` on or after (strict: after) ``earlier``, by the partial-date rule
    (validation.dates.PARTIAL_DATE_RULE): broken only if the latest possible day of ``later`` is
    before (strict: on or before) the earliest possible day of ``earlier``."""
    rel = "after" if strict else "on or after"
    statement = f"{later.label} {rel} {earlier.label}{why}"
    if column == earlier.base:   # the line names the earlier date: say what it is after
        def detail(r):
            return f"{shown(r, earlier.base)} is {'on or after' if strict else 'after'} {later.label} {shown(r, later.base)}{why}"
    else:
        def detail(r):
            return f"{shown(r, later.base)} is {'on or before' if strict else 'before'} {earlier.label} {shown(r, earlier.base)}{why}"
    return Rule(file, column, statement,
                E.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=hi(later.base), column_B=lo(earlier.base), or_equal=not strict,
                    ignore_row_if="either_value_is_missing", row_condition=where),
                detail, needs=needs or (column,))


def flag_true(file: str, column: str, flag: str, statement: str, detail: Detail,
              where: Condition | None = None, needs: tuple[str, ...] = ()) -> Rule:
    """A boolean helper column computed across forms (e.g. 'subject has an HSCT record') must be
    True on the rows selected by ``where``."""
    return Rule(file, column, statement, E.ExpectColumnValuesToBeInSet(column=flag, value_set=[True], row_condition=where),
                detail, needs=needs or (column,))
