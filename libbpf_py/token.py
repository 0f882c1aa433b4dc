"""BPF tokens: a privileged process delegates a subset of BPF to an unprivileged one (Linux 6.9+).

libbpf creates and uses the token itself (``Object.open(..., bpf_token_path=...)``, or the
``LIBBPF_BPF_TOKEN_PATH`` environment variable, or ``/sys/fs/bpf`` by default); what libbpf does
not offer is the setup a container runtime does, which this module is:

1. the unprivileged process enters a user namespace and a mount namespace
   (``enter_user_namespace()``) and opens a bpffs context there (``open_bpffs()``): the
   filesystem then belongs to its user namespace, which the token requires;
2. it hands that fd to the privileged process (``send_fd()`` / ``recv_fd()`` over a Unix
   socket), which sets the ``delegate_*`` options (only a process privileged in the initial
   user namespace may) and creates the mount (``delegate()``), and hands the mount fd back;
3. the unprivileged process points libbpf at the mount: ``/proc/self/fd/<mount fd>`` as
   ``bpf_token_path``, or mounts it somewhere (``mount()``) and names that path.

See docs/privileges.md for the whole choreography. ``explain_load_error`` turns a load the token
did not allow into a ``PermissionError`` naming what the token must delegate.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Iterable, Optional, Union

from ._ffi import libc

__all__ = ["ANY", "enter_user_namespace", "open_bpffs", "delegate", "mount", "token_path",
           "send_fd", "recv_fd"]

#: delegate every command / map type / program type / attach type
ANY = "any"

Delegated = Union[str, Iterable[str], int]


def enter_user_namespace() -> None:
    """Move the calling (single-threaded) process into a new user namespace and a new mount
    namespace, mapping root there to its own uid and gid, as an unprivileged user can
    (``unshare(CLONE_NEWUSER | CLONE_NEWNS)``, then ``/proc/self/{setgroups,uid_map,gid_map}``).
    Its mounts are made private so that nothing mounted here propagates out. Needs no
    privileges (a kernel allowing unprivileged user namespaces); raises ``OSError``."""
    uid, gid = os.geteuid(), os.getegid()
    libc.unshare(libc.CLONE_NEWUSER | libc.CLONE_NEWNS)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                       ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    # (mount(NULL, "/", NULL, MS_REC|MS_PRIVATE): a new mount namespace owned by a new user
    # namespace already gets its mounts locked and slave to the parent's; nothing we mount
    # here is seen outside.)


def open_bpffs() -> int:
    """A bpffs filesystem context (``fsopen("bpf")``), owned by the caller's user namespace:
    the unprivileged side opens it and hands it to the privileged side (``delegate()``). The
    caller owns the fd (``os.close``). Raises ``OSError``."""
    return libc.fsopen(b"bpf", libc.FSOPEN_CLOEXEC)


def _mask(what: str, value: Delegated) -> bytes:
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected names, token.ANY or a mask, not {value!r}")
    if isinstance(value, int):
        if value < 0 or value >= 1 << 64:
            raise ValueError(f"{what} mask {value:#x} is not a 64-bit mask")
        return f"{value:#x}".encode()
    names = [value] if isinstance(value, str) else list(value)
    for n in names:
        if not isinstance(n, str) or not n or ":" in n:
            raise ValueError(f"{what}: {n!r} is not a name (e.g. 'prog_load', 'any')")
    return ":".join(n.lower() for n in names).encode()


def delegate(fs_fd: int, *, cmds: Delegated, maps: Delegated = (), progs: Delegated = (),
             attachs: Delegated = ()) -> int:
    """The privileged side: set the delegation options of a bpffs context the unprivileged
    side opened (``open_bpffs()``), create the filesystem and return a detached mount of it
    (``fsconfig(delegate_cmds=..., ...)``, ``FSCONFIG_CMD_CREATE``, ``fsmount``).

    Each of ``cmds`` (``"map_create"``, ``"prog_load"``, ``"btf_load"``, ...), ``maps``
    (``"array"``, ``"hash"``, ``"ringbuf"``, ...), ``progs`` (``"tracepoint"``, ``"xdp"``,
    ``"raw_tracepoint"``, ...) and ``attachs`` (``"cgroup_inet_ingress"``, ...) is a name, a list
    of names (the kernel's enum names without their ``BPF_``/``BPF_MAP_TYPE_``/
    ``BPF_PROG_TYPE_`` prefix, lower case), ``ANY``, or a bit mask. Needs CAP_SYS_ADMIN in the
    initial user namespace. The caller owns the returned fd and still owns ``fs_fd``; a failure
    leaves no fd behind. Raises ``OSError`` naming the option the kernel refused, a
    ``PermissionError`` naming CAP_SYS_ADMIN when this process lacks it, and
    ``FeatureNotSupportedError`` (``feature == "bpf_token"``) on a kernel without BPF tokens
    (before 6.9: its bpffs ignores the ``delegate_*`` options, and refuses a filesystem context
    opened in another user namespace with EPERM)."""
    mnt_fd = -1
    refused: Optional[OSError] = None
    step = "create the filesystem"
    try:
        for key, value in (("delegate_cmds", cmds), ("delegate_maps", maps),
                           ("delegate_progs", progs), ("delegate_attachs", attachs)):
            text = _mask(key, value)
            if not text:
                continue
            step = f"set bpffs option {key}={text.decode()}"
            libc.fsconfig(fs_fd, libc.FSCONFIG_SET_STRING, key.encode(), text, 0)
        step = "create the filesystem"
        libc.fsconfig(fs_fd, libc.FSCONFIG_CMD_CREATE, None, None, 0)
        step = "mount it"
        mnt_fd = libc.fsmount(fs_fd, libc.FSMOUNT_CLOEXEC, 0)
    except OSError as e:
        refused = e
    return _delegated(mnt_fd, refused, step)


def _delegated(mnt_fd: int, refused: Optional[OSError], step: str) -> int:
    """``delegate()``'s outcome: the mount fd, or (closing it) the error that says why not."""
    import errno

    from . import features
    from ._privileges import missing_capabilities
    from .errors import BpfError, FeatureNotSupportedError

    if refused is None and features.has("bpf_token"):
        return mnt_fd
    if mnt_fd >= 0:
        os.close(mnt_fd)
    code = refused.errno if refused is not None and refused.errno else errno.EOPNOTSUPP
    strerror = os.strerror(code)
    if refused is not None and code in (errno.EPERM, errno.EACCES) and \
            missing_capabilities(["CAP_SYS_ADMIN"]):
        raise BpfError(code, f"{strerror} (needs CAP_SYS_ADMIN in the initial user namespace: "
                       "this process lacks CAP_SYS_ADMIN)", f"token.delegate(): {step}") from None
    if not features.has("bpf_token"):
        what = f"bpffs refused to {step}: {strerror}" if refused is not None else \
            "bpffs ignored the delegate_* options"
        raise FeatureNotSupportedError(
            "bpf_token", code, "token.delegate()",
            f"BPF token delegation needs a kernel with BPF tokens (6.9+): {what}") from None
    assert refused is not None
    raise OSError(code, f"{refused.strerror}: could not {step}") from None


def token_path(mnt_fd: int) -> str:
    """The path libbpf opens for a mount fd (``/proc/self/fd/N``): pass it as
    ``bpf_token_path`` (or ``LIBBPF_BPF_TOKEN_PATH``) without mounting anything."""
    return f"/proc/self/fd/{mnt_fd}"


def mount(mnt_fd: int, path: str | os.PathLike[str]) -> None:
    """Attach a delegated bpffs mount (``delegate()``'s fd) at ``path`` (``move_mount``): in
    the unprivileged side's own mount namespace (``enter_user_namespace()``), e.g. at
    ``/sys/fs/bpf``, where libbpf looks by default. Raises ``OSError``."""
    libc.move_mount(mnt_fd, b"", libc.AT_FDCWD, os.fsencode(path), libc.MOVE_MOUNT_F_EMPTY_PATH)


def send_fd(sock: socket.socket, fd: int) -> None:
    """Send one fd over a Unix socket (``SCM_RIGHTS``)."""
    socket.send_fds(sock, [b"F"], [fd])


def recv_fd(sock: socket.socket) -> int:
    """Receive one fd sent with ``send_fd()``; the caller owns it. ``EOFError`` when the peer
    closed without sending one."""
    _, fds, _, _ = socket.recv_fds(sock, 1, 1)
    if not fds:
        raise EOFError("the peer closed the socket without sending a file descriptor")
    return fds[0]


def explain_load_error(obj: Any, err: Any, label: str) -> Optional[Any]:
    """A failed ``bpf_object__load`` that used a BPF token (``bpf_object__token_fd``) and got
    EPERM: the same ``BpfPermissionError``, saying what this object needs the token to delegate
    (libbpf's first probe loads a ``socket_filter`` program, and BTF goes through
    ``btf_load``). None when no token was in use or the error is another one."""
    import errno

    from ._ffi import lib
    from .errors import with_context

    if err.errno != errno.EPERM or lib.bpf_object__token_fd(obj) < 0:
        return None
    progs, maps = ["socket_filter"], []
    p = lib.bpf_object__next_program(obj, None)
    while p:
        if lib.bpf_program__autoload(p):
            progs.append((lib.libbpf_bpf_prog_type_str(lib.bpf_program__type(p)) or b"?").decode())
        p = lib.bpf_object__next_program(obj, p)
    m = lib.bpf_object__next_map(obj, None)
    while m:
        if lib.bpf_map__autocreate(m):
            maps.append((lib.libbpf_bpf_map_type_str(lib.bpf_map__type(m)) or b"?").decode())
        m = lib.bpf_object__next_map(obj, m)
    cmds = ["btf_load", "prog_load"] + (["map_create"] if maps else [])
    need = (f"delegate_cmds={':'.join(cmds)} delegate_progs={':'.join(dict.fromkeys(progs))}"
            + (f" delegate_maps={':'.join(dict.fromkeys(maps))}" if maps else ""))
    err.strerror = (f"{err.strerror}: the BPF token refused a command, program type or map type "
                    f"it was not delegated (this object needs {need}; the attach types its "
                    "programs use in delegate_attachs)")
    return with_context(err, f"load object '{label}' with a BPF token")
