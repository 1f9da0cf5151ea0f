"""Define-XML 2.0 for the ADaM datasets of a cut, generated from data/derived/<cut>/spec.json.

spec.json is written by the derive step (analysis.derive.spec.spec_to_dict):
``{"datasets": [{"name", "label", "keys", "records", "variables": [{"name", "label", "type":
"Char"|"Num", "length", "origin", "source", "derivation", "format"?}]}]}``.

Mapping (CDISC Define-XML Specification v2.0, sections 4-5):
- one ``ItemGroupDef`` per dataset (Purpose="Analysis", def:Structure from the keys, def:Class
  from the ADaM structure, ``def:leaf`` pointing at the transport file), ``ItemRef`` per variable
  with Mandatory / KeySequence for the keys and MethodOID when a derivation is stated;
- one ``ItemDef`` per variable: DataType text (Char) / float (Num) / integer with
  def:DisplayFormat (numeric SAS dates, format DATE9.), Length, Description = label,
  ``def:Origin`` (Collected -> CRF, Derived, Assigned, Predecessor with its source);
- one ``MethodDef`` (Type="Computation") per stated derivation, its text as Description.

OIDs are IG.<DS>, IT.<DS>.<VAR>, MT.<DS>.<VAR>, LF.<DS>. CreationDateTime is the cut date at
00:00:00 so that the same spec always gives the same bytes (``reproduce`` compares them).
"""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree

from analysis import paths
from analysis.atomic import atomic_write_bytes
from analysis.raw_spec import STUDYID

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
ADAM_IG_VERSION = "1.1"

ORIGIN_TYPE = {"Collected": "CRF", "Derived": "Derived", "Assigned": "Assigned", "Predecessor": "Predecessor"}
DATASET_CLASS = {"ADSL": "SUBJECT LEVEL ANALYSIS DATASET", "ADAE": "OCCURRENCE DATA STRUCTURE"}
DEFAULT_CLASS = "BASIC DATA STRUCTURE"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _odm(tag: str) -> str:
    return _q(ODM_NS, tag)


def _def(tag: str) -> str:
    return _q(DEF_NS, tag)


def _description(parent, text: str) -> None:
    d = etree.SubElement(parent, _odm("Description"))
    etree.SubElement(d, _odm("TranslatedText"), {XML_LANG: "en"}).text = text


def data_type(var: dict) -> str:
    """Define-XML DataType of a spec variable: Char -> text; numeric date -> integer; Num -> float."""
    if var["type"] == "Char":
        return "text"
    return "integer" if var.get("format") else "float"


def _item_def(mdv, ds: str, var: dict) -> None:
    attrs = {"OID": f"IT.{ds}.{var['name']}", "Name": var["name"], "SASFieldName": var["name"],
             "DataType": data_type(var), "Length": str(int(var["length"]))}
    if var.get("format"):
        attrs[_def("DisplayFormat")] = var["format"]
    item = etree.SubElement(mdv, _odm("ItemDef"), attrs)
    _description(item, var["label"])
    origin = etree.SubElement(item, _def("Origin"), {"Type": ORIGIN_TYPE[var["origin"]]})
    if var["origin"] == "Predecessor" and var.get("source"):
        _description(origin, var["source"])


def _structure(dataset: dict) -> str:
    keys = dataset.get("keys") or []
    if dataset["name"].upper() == "ADSL":
        return "One record per subject"
    return "One record per " + ", ".join(keys) if keys else "One record per record"


def build_define(spec: dict, cut: str, href_prefix: str = "") -> bytes:
    """Define-XML 2.0 document (bytes, UTF-8) for the datasets of ``spec``; dataset files are
    referenced as ``href_prefix + <name>.xpt``."""
    date = paths.cut_date(cut)
    root = etree.Element(_odm("ODM"), {
        _q(XSI_NS, "schemaLocation"): f"{ODM_NS} define2-0-0.xsd",
        "ODMVersion": "1.3.2", "FileType": "Snapshot", "FileOID": f"DEF.{STUDYID}.ADAM.{cut}",
        "CreationDateTime": f"{date}T00:00:00", "Originator": "sandwich-sap analysis package",
        "SourceSystem": "analysis.regulatory.define_xml", "SourceSystemVersion": "1",
    }, nsmap=NSMAP)
    study = etree.SubElement(root, _odm("Study"), {"OID": f"STUDY.{STUDYID}"})
    gv = etree.SubElement(study, _odm("GlobalVariables"))
    etree.SubElement(gv, _odm("StudyName")).text = STUDYID
    etree.SubElement(gv, _odm("StudyDescription")).text = (
        "CD22/CD19 CAR-T and auto-HSCT sandwich consolidation in B-ALL (SYNTHETIC data)")
    etree.SubElement(gv, _odm("ProtocolName")).text = STUDYID
    mdv = etree.SubElement(study, _odm("MetaDataVersion"), {
        "OID": f"MDV.{STUDYID}.ADAM.{cut}", "Name": f"{STUDYID} ADaM datasets, data cut {date}",
        "Description": f"ADaM datasets of data cut {date}",
        _def("DefineVersion"): "2.0.0", _def("StandardName"): "ADaM-IG",
        _def("StandardVersion"): ADAM_IG_VERSION,
    })
    datasets = spec.get("datasets", [])
    methods: list[tuple[str, str, str]] = []
    for ds in datasets:
        name = ds["name"].upper()
        keys = list(ds.get("keys") or [])
        ig = etree.SubElement(mdv, _odm("ItemGroupDef"), {
            "OID": f"IG.{name}", "Name": name, "Repeating": "No" if name == "ADSL" else "Yes",
            "IsReferenceData": "No", "SASDatasetName": name, "Purpose": "Analysis",
            _def("Structure"): _structure(ds), _def("Class"): DATASET_CLASS.get(name, DEFAULT_CLASS),
            _def("ArchiveLocationID"): f"LF.{name}",
        })
        _description(ig, ds["label"])
        for order, var in enumerate(ds["variables"], start=1):
            ref = {"ItemOID": f"IT.{name}.{var['name']}", "OrderNumber": str(order),
                   "Mandatory": "Yes" if var["name"] in keys else "No"}
            if var["name"] in keys:
                ref["KeySequence"] = str(keys.index(var["name"]) + 1)
            if var.get("derivation"):
                ref["MethodOID"] = f"MT.{name}.{var['name']}"
                methods.append((ref["MethodOID"], f"Algorithm for {name}.{var['name']}", var["derivation"]))
            etree.SubElement(ig, _odm("ItemRef"), ref)
        leaf = etree.SubElement(ig, _def("leaf"), {"ID": f"LF.{name}",
                                                    _q(XLINK_NS, "href"): f"{href_prefix}{name.lower()}.xpt"})
        etree.SubElement(leaf, _def("title")).text = f"{name.lower()}.xpt"
    for ds in datasets:
        for var in ds["variables"]:
            _item_def(mdv, ds["name"].upper(), var)
    for oid, mname, text in methods:
        m = etree.SubElement(mdv, _odm("MethodDef"), {"OID": oid, "Name": mname, "Type": "Computation"})
        _description(m, text)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def read_spec_json(path: Path) -> dict:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} not found: the derive step writes it (run `python -m analysis derive`)")
    return json.loads(p.read_text(encoding="utf-8"))


def write_define(cut: str, root: Path | None = None, target: Path | None = None) -> Path:
    """reports/<cut>/define.xml from data/derived/<cut>/spec.json (datasets referenced relative to it)."""
    spec = read_spec_json(paths.derived_dir(cut, root) / "spec.json")
    target = target or paths.report_dir(cut, root) / "define.xml"
    href = f"../../data/derived/{cut}/"
    atomic_write_bytes(target, build_define(spec, cut, href_prefix=href))
    return target


def define_step(cut: str, root: Path | None = None) -> None:
    """Pipeline step 'define'."""
    write_define(cut, root)


def check_define(xml: bytes, spec: dict) -> list[str]:
    """Structural checks (used where the CDISC schema is not at hand): well-formed; every spec
    variable has an ItemDef with its label, DataType and Length; OIDs unique; every ItemOID /
    MethodOID / ArchiveLocationID reference resolves. Returns the problems found (empty = ok)."""
    problems = []
    doc = etree.fromstring(xml)
    ns = {"odm": ODM_NS, "def": DEF_NS}
    oids = [e.get("OID") for e in doc.iter() if e.get("OID")] + [e.get("ID") for e in doc.iter(_def("leaf"))]
    dup = sorted({o for o in oids if oids.count(o) > 1})
    if dup:
        problems.append(f"duplicate OIDs: {dup}")
    items = {e.get("OID"): e for e in doc.iterfind(".//odm:ItemDef", ns)}
    method_oids = {e.get("OID") for e in doc.iterfind(".//odm:MethodDef", ns)}
    leaf_ids = {e.get("ID") for e in doc.iter(_def("leaf"))}
    for ref in doc.iterfind(".//odm:ItemRef", ns):
        if ref.get("ItemOID") not in items:
            problems.append(f"ItemRef to missing ItemDef {ref.get('ItemOID')}")
        if ref.get("MethodOID") and ref.get("MethodOID") not in method_oids:
            problems.append(f"ItemRef to missing MethodDef {ref.get('MethodOID')}")
    for ig in doc.iterfind(".//odm:ItemGroupDef", ns):
        if ig.get(_def("ArchiveLocationID")) not in leaf_ids:
            problems.append(f"{ig.get('OID')}: ArchiveLocationID does not resolve")
    for ds in spec.get("datasets", []):
        for var in ds["variables"]:
            oid = f"IT.{ds['name'].upper()}.{var['name']}"
            e = items.get(oid)
            if e is None:
                problems.append(f"{oid}: no ItemDef")
                continue
            label = e.findtext("odm:Description/odm:TranslatedText", namespaces=ns)
            if label != var["label"]:
                problems.append(f"{oid}: label {label!r} != spec {var['label']!r}")
            if e.get("DataType") != data_type(var):
                problems.append(f"{oid}: DataType {e.get('DataType')} != {data_type(var)}")
            if e.get("Length") != str(int(var["length"])):
                problems.append(f"{oid}: Length {e.get('Length')} != {var['length']}")
    return problems


def validate_schema(xml: bytes, xsd_path: Path) -> list[str]:
    """Validate against the CDISC Define-XML 2.0 schema (define2-0-0.xsd with its ODM 1.3.2
    imports; not shipped here: CDISC distributes it). Returns the schema errors."""
    schema = etree.XMLSchema(etree.parse(str(xsd_path)))
    doc = etree.fromstring(xml)
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
