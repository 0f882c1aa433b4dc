"""BTF: vmlinux/file/object/id/module BTF, type views, C dump compiled into a CO-RE program,
value formatting, BTF -> ctypes / numpy, codecs for map keys and values."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import libbpf_py
from libbpf_py import BpfError, ClosedError, Object
from libbpf_py._codecs import codec_for
from libbpf_py._types import OutOfRangeError, ctype_for, ctype_for_name, numpy_dtype
from libbpf_py.btf import Btf, Kind

from conftest import BPF_SRC, compile_bpf

VMLINUX = "/sys/kernel/btf/vmlinux"


@pytest.fixture(scope="module")
def vmlinux():
    if not os.path.exists(VMLINUX):
        pytest.skip("kernel feature missing: vmlinux BTF")
    with Btf.vmlinux() as btf:
        yield btf


@pytest.fixture(scope="module")
def types_btf():
    # module scope: hypothesis calls the test many times; the fd-leak check sees none (no fd)
    with Btf.from_file(compile_bpf(BPF_SRC / "btf_types.bpf.c")) as btf:
        yield btf


@pytest.fixture
def types_obj(bpf_path):
    with Object.open(bpf_path("btf_types")) as obj:
        yield obj


# --- vmlinux lookups


def test_vmlinux_lookup(vmlinux) -> None:
    task = vmlinux.find("task_struct", Kind.STRUCT)
    assert task.kind is Kind.STRUCT and task.name == "task_struct"
    assert task.c_name == "struct task_struct"
    assert vmlinux.find("struct task_struct") == task
    assert vmlinux[task.id] is task
    pid = task.member("pid")
    assert pid.type.c_name == "pid_t" and pid.type.kind is Kind.TYPEDEF
    resolved = pid.type.resolve()
    assert (resolved.kind, resolved.name, resolved.size, resolved.signed) == (
        Kind.INT, "int", 4, True)
    assert pid.type.size == 4  # through the typedef
    assert task.size == ctypes.sizeof(task.ctype()) > 1000
    with pytest.raises(KeyError, match="no STRUCT type named 'lbpy_nope'"):
        vmlinux.find("lbpy_nope", Kind.STRUCT)
    assert vmlinux.get("lbpy_nope") is None
    with pytest.raises(KeyError, match=r"no type id 99999999 \(ids 1\.\."):
        vmlinux[99999999]
    assert vmlinux[0].kind is Kind.UNKN  # void
    with pytest.raises(KeyError, match="task_struct has no member 'nope'"):
        task.member("nope")
    with pytest.raises(TypeError, match="is a STRUCT, not a ARRAY"):
        task.length


def test_vmlinux_iteration_counts_every_type(vmlinux) -> None:
    kinds = {}
    n = 0
    for t in vmlinux:
        n += 1
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    assert n == len(vmlinux)
    assert kinds[Kind.STRUCT] > 1000 and kinds[Kind.FUNC] > 1000
    structs = list(vmlinux.types(Kind.STRUCT))
    assert len(structs) == kinds[Kind.STRUCT]
    assert all(t.kind is Kind.STRUCT for t in structs)
    assert vmlinux.find("task_struct", Kind.STRUCT) in structs


def test_vmlinux_agrees_with_bpftool(vmlinux) -> None:
    """Ids, sizes and member offsets against an independent reader (bpftool)."""
    bpftool = shutil.which("bpftool")
    if bpftool is None:
        pytest.skip("bpftool not installed (apt-get install bpftool)")
    task = vmlinux.find("task_struct", Kind.STRUCT)
    out = subprocess.run([bpftool, "btf", "dump", "file", VMLINUX, "format", "raw"],
                         capture_output=True, text=True, check=True).stdout
    block = re.search(rf"^\[{task.id}\] STRUCT 'task_struct' size=(\d+) vlen=(\d+)\n"
                      r"((?:\t.*\n)+)", out, re.M)
    assert block, "bpftool does not list task_struct under our id"
    assert int(block.group(1)) == task.size
    assert int(block.group(2)) == len(task.members)
    rows = re.findall(r"^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)(?: bitfield_size=(\d+))?",
                      block.group(3), re.M)
    assert [(m.name, m.type.id, m.bit_offset, m.bitfield_size) for m in task.members] == [
        ("" if n == "(anon)" else n, int(t), int(o), int(b or 0))  # bpftool's anonymous member
        for n, t, o, b in rows]


def test_from_file_raw_and_elf(vmlinux, bpf_path, tmp_path: Path) -> None:
    with Btf.from_file(VMLINUX) as raw:  # raw BTF
        assert len(raw) == len(vmlinux)
        assert raw.find("task_struct", Kind.STRUCT).id == vmlinux.find(
            "task_struct", Kind.STRUCT).id
    path = bpf_path("btf_types")
    with Btf.from_file(path) as elf, Object.open(path) as obj:  # the ELF's .BTF
        assert len(elf) == len(obj.btf)
        assert [t.c_name for t in elf] == [t.c_name for t in obj.btf]
    with pytest.raises(FileNotFoundError):
        Btf.from_file(tmp_path / "missing")
    junk = tmp_path / "junk"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(BpfError, match="parse BTF of"):
        Btf.from_file(junk)


def test_from_bytes_and_raw_data(vmlinux, types_obj) -> None:
    with open(VMLINUX, "rb") as f:
        data = f.read()
    assert vmlinux.raw_data() == data
    with Btf.from_bytes(data) as again:
        assert len(again) == len(vmlinux)
        assert again.find("task_struct", Kind.STRUCT).size == vmlinux.find(
            "task_struct", Kind.STRUCT).size
    with Btf.from_bytes(types_obj.btf.raw_data()) as copy:
        assert [t.c_name for t in copy] == [t.c_name for t in types_obj.btf]
    with pytest.raises(BpfError, match="parse BTF from 5 bytes"):
        Btf.from_bytes(b"\x9f\xeb\x01\x00\x00")


def test_module_btf_missing_module(vmlinux) -> None:
    with pytest.raises(BpfError, match="load BTF of kernel module 'lbpy_no_such_module'") as e:
        Btf.vmlinux_module("lbpy_no_such_module", base=vmlinux)
    assert e.value.errno == 2
    assert not vmlinux.closed  # a caller's base is never closed for them


@pytest.mark.root
def test_from_id_and_object_btf_id(bpf_path) -> None:
    with libbpf_py.load(bpf_path("btf_types")) as obj:
        btf_id = obj.btf.id
        ids = list(Btf.ids())  # (vmlinux's BTF has an id too from 5.11 on)
        assert btf_id in ids and ids == sorted(ids)
        with Btf.from_id(btf_id) as again:
            rec = again.find("struct rec")
            assert rec.size == obj.btf.find("struct rec").size == 104
            assert [m.name for m in rec.members] == [m.name for m in obj.btf.find(
                "struct rec").members]
    with pytest.raises(BpfError, match="load BTF id 4294967295 from the kernel"):
        Btf.from_id(0xFFFFFFFF)


# --- an object's BTF


def test_object_types_members_and_bitfields(types_obj) -> None:
    btf = types_obj.btf
    rec = btf.find("struct rec")
    assert rec.size == 104
    got = [(m.name, m.offset, m.bit_offset, m.bitfield_size, m.type.c_name) for m in rec.members]
    assert got == [
        ("id", 0, 0, 0, "my_u32"),
        ("kind", 4, 32, 3, "__u8"),
        ("prio", 4, 35, 4, "__u8"),
        ("delta", 5, 40, 5, "__s8"),
        ("name", 6, 48, 0, "char[12]"),
        ("in", 18, 144, 0, "struct inner"),
        ("u", 24, 192, 0, "union either"),
        ("lvl", 28, 224, 0, "enum level"),
        ("big", 32, 256, 0, "__u64"),
        ("", 40, 320, 0, "struct <anon>"),
        ("ptr", 48, 384, 0, "void *"),
        ("arr", 56, 448, 0, "__u64[2][3]"),
    ]
    my_u32 = btf.find("my_u32")
    assert my_u32.kind is Kind.TYPEDEF and my_u32.target.c_name == "__u32"
    assert my_u32.resolve().c_name == "unsigned int" and my_u32.size == 4
    arr = rec.member("arr").type
    assert (arr.kind, arr.length, arr.element.c_name, arr.element.length, arr.size) == (
        Kind.ARRAY, 2, "__u64[3]", 3, 48)
    assert rec.member("ptr").type.target.kind is Kind.UNKN
    assert btf.find("enum level").enumerators == {"LOW": 1, "MID": 2, "HIGH": 1 << 20}
    either = btf.find("union either")
    assert either.kind is Kind.UNION and [m.offset for m in either.members] == [0, 0]
    assert rec.alignment == 8
    datasec = btf.find(".data", Kind.DATASEC)
    assert [(v.name, off, size) for v, off, size in datasec.variables] == [
        ("rec_sample", 0, 104)]
    assert datasec.variables[0][0].linkage == 1  # global


def test_format_value(types_obj) -> None:
    btf = types_obj.btf
    raw = types_obj.data.raw()
    text = btf.format("struct rec", raw)
    assert text == (
        "(struct rec){.id = (my_u32)7,.kind = (__u8)0x5,.prio = (__u8)0x9,"
        ".delta = (__s8)0x1d,.name = (char[12])['s','a','m','p','l','e',],"
        ".in = (struct inner){.lo = (__u16)1,.hi = (__u16)2,},"
        ".u = (union either){.word = (__u32)16909060,.bytes = (__u8[4])[4,3,2,1,],},"
        ".lvl = (enum level)HIGH,.big = (__u64)1099511627776,"
        "(struct){.ax = (int)-10,.ay = (int)20,},.arr = (__u64[2][3])[[1,2,3,],[4,5,6,],],}")
    inner = btf.find("struct inner")
    assert inner.format(b"\x05\x00\x00\x00") == "(struct inner){.lo = (__u16)5,}"
    assert inner.format(b"\x05\x00\x00\x00", emit_zeroes=True) == \
        "(struct inner){.lo = (__u16)5,.hi = (__u16)0,}"
    assert btf.format("struct inner", b"\x01\x00\x02\x00", compact=False) == \
        "(struct inner){\n  .lo = (__u16)1,\n  .hi = (__u16)2,\n}"
    with pytest.raises(ValueError, match=r"struct inner has size 4, 3 bytes given"):
        inner.format(b"abc")
    with pytest.raises(TypeError, match=r"has no size"):
        btf.format(btf.find("copy_sample", Kind.FUNC), b"")


# --- BTF -> ctypes and numpy


def test_ctypes_from_btf(types_obj) -> None:
    btf = types_obj.btf
    Rec = ctype_for_name(btf, "struct rec")
    assert Rec is ctype_for(btf, btf.find("struct rec").id)  # cached per (btf, id)
    assert Rec is btf.find("struct rec").ctype()
    assert ctypes.sizeof(Rec) == 104
    r = Rec.from_buffer_copy(types_obj.data.raw())
    assert (r.id, r.kind, r.prio, r.delta, r.name) == (7, 5, 9, -3, b"sample")
    assert (r.ax, r.ay, r.big, r.ptr) == (-10, 20, 1 << 40, 0)
    assert (r.u.word, list(r.u.bytes), [list(row) for row in r.arr]) == (
        0x01020304, [4, 3, 2, 1], [[1, 2, 3], [4, 5, 6]])
    assert r.lvl.name == "HIGH" and r.lvl == 1 << 20
    assert repr(getattr(r, "in")) == "struct inner(lo=1, hi=2)"
    assert repr(r).startswith("struct rec(id=7, kind=5, prio=9, delta=-3, name=b'sample', ")
    # bitfields write back in place, exactly where C puts them (checked by libbpf's printer)
    r.kind, r.prio, r.delta = 2, 15, 7
    assert btf.format("struct rec", bytes(r)).startswith(
        "(struct rec){.id = (my_u32)7,.kind = (__u8)0x2,.prio = (__u8)0xf,.delta = (__s8)0x7,")
    with pytest.raises(OutOfRangeError, match=r"struct rec\.kind: 8 does not fit a 3-bit"):
        r.kind = 8
    assert ctype_for_name(btf, "my_u32") is ctypes.c_uint32
    assert ctype_for_name(btf, "enum level") is ctypes.c_uint32
    assert ctype_for_name(btf, "union either")._btf_name_ == "union either"
    with pytest.raises(KeyError, match="no BTF type 'struct nope'"):
        ctype_for_name(btf, "struct nope")


def test_numpy_dtype(types_obj) -> None:
    np = pytest.importorskip("numpy")
    btf = types_obj.btf
    dt = numpy_dtype(ctype_for_name(btf, "struct rec"))
    assert dt.itemsize == 104
    assert dt.names == ("id", "name", "in", "u", "lvl", "big", "ax", "ay", "ptr", "arr")
    assert [dt.fields[n][1] for n in dt.names] == [0, 6, 18, 24, 28, 32, 40, 44, 48, 56]
    a = np.frombuffer(types_obj.data.raw(), dtype=dt)
    assert (int(a["id"][0]), a["name"][0], int(a["in"]["hi"][0]), int(a["ay"][0])) == (
        7, b"sample", 2, 20)
    assert a["arr"][0].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert btf.find("struct inner").numpy_dtype() == np.dtype(
        {"names": ["lo", "hi"], "formats": ["<u2", "<u2"], "offsets": [0, 2], "itemsize": 4})


# --- codecs (what map.py uses for keys and values)


def test_codecs_decode_by_type(types_obj) -> None:
    btf = types_obj.btf
    rec_id = btf.find("struct rec").id
    c = codec_for(btf, rec_id, 104, "value")
    v = c.decode(types_obj.data.raw())
    assert type(v).__name__ == "rec" and v.id == 7 and v.name == b"sample"
    assert c.encode(v) == types_obj.data.raw()
    lvl = codec_for(btf, btf.find("enum level").id, 4, "value")
    assert lvl.decode((1 << 20).to_bytes(4, "little")).name == "HIGH"
    assert lvl.decode((3).to_bytes(4, "little")) == 3  # unnamed value: a plain int
    u32 = codec_for(btf, btf.find("my_u32").id, 4, "key")
    assert u32.decode(b"\x01\x00\x00\x00") == 1 and type(u32.decode(bytes(4))) is int
    arr = codec_for(btf, btf.find("struct rec").member("arr").type.id, 48, "value")
    assert arr.decode(b"".join(
        i.to_bytes(8, "little") for i in range(6))) == [[0, 1, 2], [3, 4, 5]]
    name = codec_for(btf, btf.find("struct rec").member("name").type.id, 12, "value")
    assert name.decode(b"abc" + bytes(9)) == b"abc"
    assert name.encode("abc") == b"abc" + bytes(9)
    # no BTF, or a size that disagrees with BTF: raw bytes
    assert codec_for(None, 0, 4, "key").decode(b"abcd") == b"abcd"
    assert codec_for(btf, rec_id, 8, "value").decode(bytes(8)) == bytes(8)


def test_codecs_encode_checks_before_any_syscall(types_obj) -> None:
    btf = types_obj.btf
    c = codec_for(btf, btf.find("struct rec").id, 104, "value")
    data = c.encode({"id": 1, "kind": 3, "name": "x", "in": (4, 5), "lvl": 2, "ax": -1,
                     "arr": [[1], [2, 3]]})
    r = c.decode(data)
    assert (r.id, r.kind, r.name, r.lvl.name, r.ax, r.arr[1][1]) == (1, 3, b"x", "MID", -1, 3)
    assert (getattr(r, "in").lo, getattr(r, "in").hi, r.arr[0][1]) == (4, 5, 0)
    assert c.encode((1, 3)) == c.encode({"id": 1, "kind": 3})
    assert c.encode(bytes(104)) == bytes(104)
    with pytest.raises(TypeError, match=r"value \(struct rec\): struct rec has no field 'nope'"):
        c.encode({"nope": 1})
    with pytest.raises(ValueError, match=r"struct rec\.id: 4294967296 does not fit a unsigned "
                                         r"32-bit integer"):
        c.encode({"id": 1 << 32})
    with pytest.raises(OverflowError, match=r"struct rec\.kind: .*8 does not fit a 3-bit"):
        c.encode({"kind": 8})
    with pytest.raises(ValueError, match=r"struct inner\.hi: 70000 does not fit"):
        c.encode({"in": {"hi": 70000}})
    with pytest.raises(ValueError, match=r"13 bytes do not fit char\[12\]"):
        c.encode({"name": "x" * 13})
    with pytest.raises(ValueError, match=r"has size 3 but the map's value size is 104"):
        c.encode(b"abc")
    with pytest.raises(TypeError, match=r"struct rec\.big: expects an int, not str"):
        c.encode({"big": "1"})
    with pytest.raises(ValueError, match=r"3 elements do not fit an array of 2"):
        c.encode({"arr": [[1], [2], [3]]})


# --- lifetime


def test_close_semantics(bpf_path) -> None:
    b = Btf.vmlinux()
    t = b.find("task_struct", Kind.STRUCT)
    b.close()
    b.close()  # idempotent
    assert b.closed and "closed" in repr(b)
    with pytest.raises(ClosedError, match="BTF 'vmlinux' is closed"):
        len(b)
    with pytest.raises(ClosedError):
        t.size
    obj = Object.open(bpf_path("btf_types"))
    btf = obj.btf
    assert obj.btf is btf
    obj.close()
    with pytest.raises(ClosedError, match="its object is closed"):
        btf.find("struct rec")
    btf.close()  # borrowed: nothing to free


def test_borrowed_btf_keeps_object_alive(bpf_path) -> None:
    import gc

    btf = Object.open(bpf_path("btf_types")).btf
    gc.collect()
    assert btf.find("struct rec").size == 104


# --- dump_c: a vmlinux.h that compiles and runs a CO-RE program


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_dump_c_compiles_a_core_program_that_runs(vmlinux, tmp_path: Path) -> None:
    header = vmlinux.dump_c(tmp_path / "vmlinux.h")
    assert (tmp_path / "vmlinux.h").read_text() == header
    assert header.startswith("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n")
    assert "struct task_struct {" in header
    src = tmp_path / "btf_core.bpf.c"
    shutil.copy(BPF_SRC / "btf_core.bpf.c", src)
    obj_path = compile_bpf(src, tmp_path)
    opened = Object.open(obj_path)
    opened.rodata.target_pid = os.getpid()
    with opened.load() as obj:
        obj.attach()
        os.getppid()
        assert obj.bss.seen_tgid == os.getpid()
        assert obj.bss.seen_ppid == os.getppid()
        with open("/proc/self/comm", "rb") as f:
            assert obj.bss.seen_comm == f.read().strip()[:15]
        assert obj.bss.seen_has_pid_field == 1


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_map_keys_and_values_typed_from_btf(bpf_path) -> None:
    """A program copies a struct into a map; map.py decodes keys/values with these codecs."""
    opened = Object.open(bpf_path("btf_types"))
    opened.data.rec_sample = {"id": os.getpid(), "kind": 6, "name": "from-py", "lvl": 1 << 20,
                              "arr": [[9, 8, 7]], "in": (3, 4)}
    with opened.load() as obj:
        obj.attach()
        os.getppid()
        rec = obj.maps["recs"][os.getpid()]
        assert type(rec).__name__ == "rec"
        assert (rec.id, rec.kind, rec.name, rec.lvl.name, [list(r) for r in rec.arr]) == (
            os.getpid(), 6, b"from-py", "HIGH", [[9, 8, 7], [0, 0, 0]])
        levels = obj.maps["levels"]
        assert list(levels.items()) == [((1, 2), 2)]
        key, value = next(iter(levels.items()))
        assert repr(key) == "struct inner(lo=1, hi=2)" and value.name == "MID"
        levels[{"lo": 5, "hi": 6}] = 1
        assert levels[(5, 6)].name == "LOW"
        with pytest.raises(ValueError, match=r"struct inner\.hi: 65536 does not fit"):
            levels[{"lo": 5, "hi": 65536}] = 1
        with pytest.raises(TypeError, match=r"struct inner has no field 'x'"):
            levels[{"x": 1}]
        names = obj.maps["names"]
        names[1] = "abc"
        assert (names[1], names[0]) == (b"abc", b"")
        with pytest.raises(ValueError, match=r"17 bytes do not fit char\[16\]"):
            names[0] = "x" * 17


@settings(max_examples=60, deadline=None)
@given(id_=st.integers(0, 2**32 - 1), kind=st.integers(0, 7), prio=st.integers(0, 15),
       delta=st.integers(-16, 15), name=st.binary(max_size=11).map(lambda b: b.replace(b"\0", b"")),
       ax=st.integers(-2**31, 2**31 - 1), big=st.integers(0, 2**64 - 1))
def test_struct_codec_round_trip_matches_libbpf(types_btf, id_, kind, prio, delta, name, ax,
                                                big) -> None:
    btf = types_btf
    c = codec_for(btf, btf.find("struct rec").id, 104, "value")
    fields = {"id": id_, "kind": kind, "prio": prio, "delta": delta, "name": name, "ax": ax,
              "big": big}
    data = c.encode(fields)
    back = c.decode(data)
    assert {k: getattr(back, k) for k in fields} == fields
    text = btf.format("struct rec", data, emit_zeroes=True)
    assert f".id = (my_u32){id_}," in text and f".big = (__u64){big}," in text
    assert f".kind = (__u8)0x{kind:x}," in text and f".prio = (__u8)0x{prio:x}," in text
    assert f".ax = (int){ax}," in text


KFUNC_PROG = r"""// kfunc_user.bpf.c: calls kfuncs whose prototypes only our vmlinux.h gives
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int target_pid = 0;
int seen_tgid = 0;

SEC("tp_btf/sys_enter")
int BPF_PROG(on_enter, struct pt_regs *regs, long id)
{
	struct task_struct *t;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	t = bpf_task_from_pid(target_pid);
	if (!t)
		return 0;
	seen_tgid = t->tgid;
	bpf_task_release(t);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.root
@pytest.mark.kernel("btf_kfunc_tags")
def test_dump_c_declares_kfuncs_and_a_program_calling_them_runs(vmlinux, tmp_path: Path) -> None:
    """Issue 11, bug 6: dump_c omitted kfunc prototypes, so BPF C calling kfuncs (bcc's
    sigsnoop) did not compile against it. bpftool writes them guarded by
    BPF_NO_KFUNC_PROTOTYPES; so do we."""
    kfuncs = [t.target.name for t in vmlinux.types(Kind.DECL_TAG) if t.name == "bpf_kfunc"]
    assert "bpf_task_from_pid" in kfuncs
    header = vmlinux.dump_c(tmp_path / "vmlinux.h")
    block = header[header.index("/* BPF kfuncs */"):]
    assert block.startswith("/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n")
    assert "extern struct task_struct *bpf_task_from_pid(s32 pid) __weak __ksym;\n" in block
    assert "extern void bpf_task_release(struct task_struct *p) __weak __ksym;\n" in block
    assert block.count("__weak __ksym;\n") == len(kfuncs)
    assert "#define __ksym __attribute__((section(\".ksyms\")))" in header
    src = tmp_path / "kfunc_user.bpf.c"
    src.write_text(KFUNC_PROG)
    opened = Object.open(compile_bpf(src, tmp_path))  # failed before: undeclared function
    opened.rodata.target_pid = os.getpid()
    with opened.load() as obj:
        obj.attach()
        os.getppid()
        assert obj.bss.seen_tgid == os.getpid()


def _btf_blob(types: list[bytes], strings: bytes) -> bytes:
    """A raw BTF blob (linux/btf.h: header, type section, string section)."""
    import struct as st_

    tsec = b"".join(types)
    hdr = st_.pack("=HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(tsec), len(tsec), len(strings))
    return hdr + tsec + strings


def _rec(name_off: int, kind: int, vlen: int, size_or_type: int, extra: bytes = b"") -> bytes:
    import struct as st_

    return st_.pack("=III", name_off, kind << 24 | vlen, size_or_type) + extra


def test_btf_loops_are_refused_before_libbpf_walks_them() -> None:
    """Issue 10: mutated BTF crashed (stack overflow) inside Btf.dump_c() and alignment:
    libbpf's btf_dump and btf__align_of recurse on type loops without a bound. Each
    reproducer runs in a child process: a signal fails the test, naming it."""
    import struct as st_

    from test_globals import in_child

    strings = b"\0a\0b\0s\0int\0"
    int_t = _rec(7, 1, 0, 4, st_.pack("=I", 32))  # id 1: int
    cases = {
        # typedef a -> typedef b -> typedef a
        "typedef loop": [int_t, _rec(1, 8, 0, 3), _rec(3, 8, 0, 2)],
        # int *p where p points to itself through pointers only
        "pointer loop": [int_t, _rec(0, 2, 0, 3), _rec(0, 2, 0, 2)],
        # struct s { struct s inner; }: contains itself by value
        "struct by value": [int_t, _rec(5, 4, 1, 4, st_.pack("=III", 1, 2, 0))],
        # const -> volatile -> const
        "modifier loop": [int_t, _rec(0, 10, 0, 3), _rec(0, 9, 0, 2)],
        # array of itself
        "array loop": [int_t, _rec(0, 3, 0, 0, st_.pack("=III", 2, 1, 4))],
    }
    for what, types in cases.items():
        code = """
import sys
from libbpf_py.btf import Btf
from libbpf_py._types import MalformedBtfError, ctype_for
blob = bytes.fromhex(sys.argv[1])
with Btf.from_bytes(blob) as btf:
    msgs = []
    for step in (lambda: btf.dump_c(), lambda: btf[2].alignment, lambda: btf.ctype(2),
                 lambda: btf.format(2, b"\\0" * 4), lambda: btf[2].c_name):
        try:
            r = step()
        except (MalformedBtfError, TypeError, ValueError) as e:
            msgs.append(type(e).__name__ + ": " + str(e))
        else:
            msgs.append("ok " + str(r)[:40])
    print("\\n".join(msgs))
"""
        out = in_child(code, _btf_blob(types, strings).hex())
        lines = out.splitlines()
        assert lines[0].startswith("MalformedBtfError: BTF type "), (what, out)
        assert "malformed BTF" in lines[0], (what, out)
        assert lines[1].startswith("MalformedBtfError"), (what, out)
        # a pointer is an address whatever it points to: c_uint64 is a fine answer
        assert lines[2].startswith(("MalformedBtfError", "TypeError")) or what == "pointer loop" \
            and lines[2] == "ok <class 'ctypes.c_ulong'>", (what, out)
        assert lines[3].startswith(("MalformedBtfError", "TypeError", "ValueError")), (what, out)
        assert lines[4].startswith("ok "), (what, out)  # a spelling, bounded


def test_btf_non_utf8_names_read_with_escapes() -> None:
    """Issue 10: a non-UTF-8 type name raised UnicodeDecodeError."""
    import struct as st_

    blob = _btf_blob([_rec(6, 1, 0, 4, st_.pack("=I", 32)), _rec(1, 8, 0, 1)],
                     b"\0in\xfft\0int\0")
    with Btf.from_bytes(blob) as btf:
        assert btf[2].name == "in\\xfft" and btf[2].c_name == "in\\xfft"
        assert btf.find("in\udcfft").id == 2  # surrogate escapes find it by its bytes
        assert "typedef int in\ufffdt;" in btf.dump_c()


CRASHES = Path(__file__).resolve().parent / "data" / "btf_crashes"


@pytest.mark.parametrize("blob", sorted(CRASHES.glob("*.btf")), ids=lambda p: p.stem)
def test_fuzzed_btf_that_crashed_libbpf_gets_clear_errors(blob: Path) -> None:
    """Issue 10: BTF from byte-mutated objects that crashed (SIGSEGV, SIGFPE) inside
    btf_dump (dump_c, format) or raised unclear errors. Validated in Python before libbpf sees
    it: every walk gives a result or a TypeError/ValueError/KeyError/BpfError, in a child."""
    from test_globals import in_child

    code = """
import sys
from libbpf_py import BpfError
from libbpf_py.btf import Btf
with Btf.from_bytes(open(sys.argv[1], "rb").read()) as btf:
    outcomes = set()
    steps = [lambda: btf.dump_c()]
    for t in btf.types():
        steps += [lambda t=t: t.c_name, lambda t=t: t.alignment, lambda t=t: t.ctype(),
                  lambda t=t: repr(t), lambda t=t: t.format(bytes(max(0, min(t.size, 4096))))]
    for step in steps:
        try:
            step()
            outcomes.add("ok")
        except (TypeError, ValueError, KeyError, BpfError) as e:
            outcomes.add(type(e).__name__)
    print(sorted(outcomes))
"""
    out = in_child(code, str(blob))
    assert "MalformedBtfError" in out or "TypeError" in out, out
