"""Regulatory tools around the pipeline.

- ``compare``      changes between two data cuts (``python -m analysis compare``), and the
                   pipeline step that writes reports/<cut>/changes/ (``load_changes`` reads them)
- ``lock``         freeze an official cut under data/locked/<cut>/ with a provenance manifest
- ``reproduce``    rebuild a locked cut from raw in a scratch tree and compare with the lock
- ``define_xml``   Define-XML 2.0 from data/derived/<cut>/spec.json (pipeline step 'define')
- ``identifiers``  no directly identifying column or value from raw reaches any output (pipeline
                   step 'identifiers', the last)
- ``commands``     the CLI entry points (lock, reproduce, compare)
"""
