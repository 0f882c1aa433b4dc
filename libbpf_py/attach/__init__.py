"""Attaching programs: the ``attach_<kind>()`` methods of ``Program`` and what they need.

- ``tracing``: tracepoints, raw/BTF tracepoints, kprobes, uprobes, USDT, trampolines (fentry,
  fexit, LSM), perf events, iterators (``IterLink``); mixed into ``Program``.
- ``net``: XDP, TCX, legacy TC, netfilter, netns, cgroups, sockmap, socket filters
  (``Attachment`` for hooks without a BPF link; ``xdp_query``, ``tc_query``, ``query_programs``);
  mixed into ``Program``.
- ``perf_event``: ``open_perf_event()`` (``perf_event_open(2)``), ``online_cpus()``, the event
  names (``PerfType``, ``PerfHWConfig``, ``PerfSWConfig``).

docs/attach.md lists every kind. Nothing is imported here: each module loads on first use.
"""
