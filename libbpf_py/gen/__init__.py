"""Generators: Python source from BTF (``pytypes``), for ``python -m libbpf_py gen ...``.

``pytypes.python_source(btf, spellings)`` writes ctypes classes for BTF types; ``runtime`` is
the small, stable surface the generated modules import. Skeleton generation (a typed module
embedding an object) builds on both.
"""
