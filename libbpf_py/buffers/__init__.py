"""Event buffers between BPF programs and Python: ``RingBuffer`` (``ringbuf``), ``PerfBuffer``
(``perfbuf``), ``UserRingBuffer`` (``userringbuf``), and what the polled ones share
(``_base``: the lease, one reader at a time, waiting, asyncio).

The classes are exported as ``libbpf_py.RingBuffer``, ``libbpf_py.PerfBuffer`` and
``libbpf_py.UserRingBuffer``; docs/streaming.md describes them. Nothing is imported here: each
module loads on first use.
"""
