"""Utilities that do not wrap libbpf, usable on their own (they are not BPF helper functions):

- ``symbols``: addresses to symbols (``KernelSymbols``, ``UserSymbols``, ``ElfSymbols``,
  ``format_stack``);
- ``elf``: a small ELF reader (``ElfFile``);
- ``histogram``: bcc-style log2 and linear histograms (``format_log2_hist`` ...);
- ``tracepipe``: the kernel's trace pipe (``TracePipe``: ``bpf_printk()`` output).

Import them by their path (``from libbpf_py.utils.symbols import KernelSymbols``). Nothing is
imported here: each module loads on first use.
"""
