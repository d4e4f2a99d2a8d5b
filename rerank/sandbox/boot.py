"""The sandbox's child side: a fresh ``python -I -S`` imports this and calls supervise().

It is imported (by a one-line ``-c`` loader, see runner.py) rather than run as a script
so that its cached bytecode is used. The interpreter that runs it becomes the
*supervisor*. With namespaces, the supervisor enters them and forks an init (pid 1 of the
new pid namespace), which builds the filesystem view and forks the *program* (pid 2);
without, it forks the program directly. The program sets the rlimits, drops privileges
and only then runs the untrusted ``main.py``. Every run pays for what this file imports,
so it imports builtin modules only, ``_ctypes`` among them (the only way to call unshare,
mount and prctl from Python 3.11, which has no ``os.unshare``).

Why a supervisor outside the pid namespace: when init exits the kernel kills and reaps
everything in the namespace before the supervisor's ``waitpid`` returns, so the run is
over exactly when the supervisor exits. Without a pid namespace the supervisor is a
child subreaper: orphans that escaped with setsid() are reparented to it, and it kills
them itself.

Status pipe protocol, one line each: ``pid N`` (our child), ``cgroup`` (the program
joined the run's cgroup) or ``cgroup-failed MESSAGE`` (it could not: RLIMIT_AS alone
bounds its memory), ``ready`` (the untrusted code starts now), ``exit W`` (the program's
raw wait status), ``error MESSAGE`` (setup failed: fail closed, the untrusted code never
ran). The program closes the pipe before the untrusted code runs, so nothing that code
does can forge a line. SIGTERM asks the supervisor to SIGKILL its child: the host's
wall clock.
"""

# Not signal.py, and no contextlib: their imports (enum, collections, functools) would
# cost more than the rest of this file.
import _signal as signal
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 4, 38, 36
SYS_MOUNT_SETATTR, AT_FDCWD, AT_RECURSIVE = 442, -100, 0x8000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 1, 2
MAIN = "main.py"
WORKDIR = "/tmp/sandbox"  # fixed, so tracebacks read the same in every run

_program_pid = 0
_program_pidfd = -1


class Options:
    """The ``key=value`` arguments; repeated keys (hide, expose, path) collect into lists."""

    def __init__(self, argv):
        values, lists = {}, {"hide": [], "expose": [], "path": []}
        for arg in argv:
            key, _, value = arg.partition("=")
            if key in lists:
                lists[key].append(value)
            else:
                values[key] = value
        self.status_fd = int(values["fd"])
        self.parent = int(values["parent"])
        self.namespaces = values.get("ns", "none")  # none | root | user
        self.uid = int(values["uid"]) if "uid" in values else None
        self.gid = int(values["gid"]) if "gid" in values else None
        self.limits = [(name, int(values[name])) for name in ("cpu", "as", "fsize", "nofile")]
        self.nproc = int(values["nproc"])
        self.scratch = int(values.get("scratch", 1 << 24))
        self.guard = values.get("guard") == "1"
        self.writable_tmp = values.get("tmp") == "rw"  # a private /tmp the program may write
        self.cgroup = values.get("cgroup")  # the run's cgroup.procs, if it has a cgroup
        self.cgroup_fd = -1
        self.hide, self.expose, self.path = lists["hide"], lists["expose"], lists["path"]


def report(fd, line):
    """One status line; a vanished host is no reason to stop cleaning up."""
    try:  # noqa: SIM105 (see the imports)
        os.write(fd, line.encode("utf-8", "replace") + b"\n")
    except OSError:
        pass


class Libc:
    """The few libc calls we need, through ``_ctypes`` directly.

    The ``ctypes`` package would do the same but is slow to import on every run (it
    builds dozens of classes; docs/sandbox.md, Overhead); every argument here is a C
    long, bytes or None.
    """

    def __init__(self):
        import _ctypes

        class Long(_ctypes._SimpleCData):
            _type_ = "l"

        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = Long

        class Library:
            _handle = _ctypes.dlopen(None, 2)  # the running program (and libc), RTLD_NOW

        self._long, self._function, self._library = Long, Function, Library
        self._errno = _ctypes.get_errno

    def __call__(self, name, *args, what=None):
        """``name(*args)``; -1 becomes OSError naming ``what`` (default: the function)."""
        function = self._function((name, self._library))
        result = function(*(self._long(a) if isinstance(a, int) else a for a in args))
        if result == -1:
            err = self._errno()
            raise OSError(err, f"{what or name}: {os.strerror(err)}")
        return result


def mount(libc, source, target, fstype, flags, data=None):
    def enc(s):
        return None if s is None else s.encode()

    libc("mount", enc(source), enc(target), enc(fstype), flags, enc(data), what=f"mount {target}")


def set_mount_attr(libc, path, *, set_=0, clear=0, recursive=False):
    """mount_setattr(2) (Linux 5.12+): one call makes a whole tree read-only."""
    attr = b"".join(x.to_bytes(8, sys.byteorder) for x in (set_, clear, 0, 0))
    flags = AT_RECURSIVE if recursive else 0
    libc(
        "syscall",
        SYS_MOUNT_SETATTR,
        AT_FDCWD,
        path.encode(),
        flags,
        attr,
        len(attr),
        what=f"mount_setattr {path}",
    )


def read_tree(top="."):
    """(relative path, bytes or None for a directory), parents before children."""
    found, pending = [], [""]
    while pending:
        rel = pending.pop()
        for entry in os.scandir(rel or top):
            path = os.path.join(rel, entry.name)
            if entry.is_dir(follow_symlinks=False):
                found.append((path, None))
                pending.append(path)
            elif entry.is_file(follow_symlinks=False):
                with open(entry.path, "rb") as handle:
                    found.append((path, handle.read()))
    return found


def enter_namespaces(libc, opts):
    """New mount, net, ipc, uts and pid namespaces (plus a user one when not root)."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID
    uid, gid = os.getuid(), os.getgid()
    if opts.namespaces == "user":
        flags |= CLONE_NEWUSER
    libc("unshare", flags, what="unshare")
    if opts.namespaces == "user":
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"0 {uid} 1"),
            ("gid_map", f"0 {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    # Without this our mounts would propagate back into the host's namespace.
    mount(libc, None, "/", None, MS_REC | MS_PRIVATE)


def build_filesystem(libc, opts, files):
    """Read-only host, private size-capped /tmp with a writable WORKDIR, fresh /proc.

    With ``tmp=rw`` the private /tmp itself is writable too (as big as the scratch space).

    Directories the program must not read (/root, $HOME) and /tmp are covered by empty
    tmpfs mounts; the interpreter's own directories that live under them are bound back
    at the same path so that imports keep working.
    """
    exposed = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in opts.expose]
    owner = f",uid={opts.uid},gid={opts.gid}" if opts.uid is not None else ""
    for hidden in ["/tmp", *opts.hide]:
        options = "size=64k,mode=755"
        if hidden == "/tmp" and opts.writable_tmp:
            options = f"size={opts.scratch},nr_inodes=4096,mode=1777"
        mount(libc, "tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for path, fd in exposed:
        os.makedirs(path, exist_ok=True)
        mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    os.mkdir(WORKDIR, 0o755)
    set_mount_attr(libc, "/", set_=MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, recursive=True)
    if opts.writable_tmp:  # this mount only: what is bound back under /tmp stays read-only
        set_mount_attr(libc, "/tmp", clear=MOUNT_ATTR_RDONLY)
    # Mounted after the line above, so these three stay writable.
    mount(
        libc,
        "tmpfs",
        WORKDIR,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={opts.scratch},nr_inodes=4096,mode=755{owner}",
    )
    mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if os.path.isdir("/dev/shm"):  # multiprocessing's semaphores live here
        mount(
            libc,
            "tmpfs",
            "/dev/shm",
            "tmpfs",
            MS_NOSUID | MS_NODEV,
            f"size={opts.scratch},nr_inodes=1024,mode=1777",
        )
    os.chdir(WORKDIR)
    for path, data in files:
        if data is None:
            os.mkdir(path, 0o755)
        else:
            with open(path, "wb") as handle:
                handle.write(data)


def set_limits(opts):
    import resource

    def lower(kind, soft, hard):
        current = resource.getrlimit(kind)[1]
        if current != resource.RLIM_INFINITY:
            soft, hard = min(soft, current), min(hard, current)
        resource.setrlimit(kind, (soft, hard))

    kinds = {
        "cpu": resource.RLIMIT_CPU,
        "as": resource.RLIMIT_AS,
        "fsize": resource.RLIMIT_FSIZE,
        "nofile": resource.RLIMIT_NOFILE,
    }
    for name, value in opts.limits:
        # The CPU hard limit one second above the soft one: SIGXCPU first, then SIGKILL
        # for a program that catches or ignores SIGXCPU.
        lower(kinds[name], value, value + 1 if name == "cpu" else value)
    lower(resource.RLIMIT_CORE, 0, 0)
    lower(resource.RLIMIT_NPROC, opts.nproc, opts.nproc)


def install_guard():
    """Python-level network guard, for machines without a network namespace.

    Audit hooks cannot be removed from Python code. Spawning processes and ctypes are
    blocked too, since either would step around the hook. A C extension or a forged
    frame walk still could: this is best effort, and isolation() says so.
    """
    blocked = {
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "subprocess.Popen",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.call_function",
    }

    def hook(event, args):
        if event in blocked or (event == "socket.__new__" and args[1] != 1):  # 1: AF_UNIX
            raise PermissionError(f"{event}: blocked by the sandbox (no network namespace)")

    sys.addaudithook(hook)


def drop_privileges(libc, opts):
    if opts.namespaces == "user":
        # A nested user namespace owns no mounts: the program cannot undo the read-only
        # view (mounts it copies into a namespace of its own arrive locked).
        libc("unshare", CLONE_NEWUSER, what="unshare(CLONE_NEWUSER)")
    if opts.uid is not None:
        os.setgroups([])
        os.setresgid(opts.gid, opts.gid, opts.gid)
        os.setresuid(opts.uid, opts.uid, opts.uid)
        # Changing uid made us non-dumpable (/proc/self owned by root); a process started
        # by that uid would be dumpable. RLIMIT_CORE is 0, so this writes no core files.
        libc("prctl", PR_SET_DUMPABLE, 1, 0, 0, 0, what="dumpable")
    libc("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, what="no_new_privs")


def open_cgroup(opts):
    """Open the run's ``cgroup.procs`` now, while /sys is writable: the namespaces make
    it read-only, and the fd keeps the host's writable mount. Failing that, the run
    falls back to RLIMIT_AS alone, and says so."""
    if opts.cgroup:
        try:
            opts.cgroup_fd = os.open(opts.cgroup, os.O_WRONLY)
        except OSError as exc:
            report(opts.status_fd, f"cgroup-failed {exc}")


def close_cgroup(opts):
    if opts.cgroup_fd >= 0:
        os.close(opts.cgroup_fd)
        opts.cgroup_fd = -1


def join_cgroup(opts):
    """Move the program into the run's cgroup, so that it and everything it starts
    share its memory.max; then close the fd, before any untrusted code runs."""
    if opts.cgroup_fd < 0:
        return
    try:
        os.write(opts.cgroup_fd, b"0")  # "0": the writing process itself
    except OSError as exc:
        report(opts.status_fd, f"cgroup-failed {exc}")
    else:
        report(opts.status_fd, "cgroup")
    finally:
        close_cgroup(opts)


def check_alive(alive_fd):
    """Exit now if the parent that set up ``alive_fd`` (holding its write end) is gone."""
    os.set_blocking(alive_fd, False)
    try:
        if os.read(alive_fd, 1) == b"":
            os._exit(1)
    except BlockingIOError:
        pass
    os.close(alive_fd)


def prepare_program(libc, opts, alive_fd):
    """Everything between fork and the untrusted code; any failure aborts the run."""
    join_cgroup(opts)  # first: from here on everything the program allocates is charged
    os.setsid()  # its own group: kill(0, ...) from the program reaches nobody else
    set_limits(opts)
    drop_privileges(libc, opts)
    if alive_fd is not None:  # no pid namespace: nothing else would kill us with the parent
        # After the uid change, which clears it; then make sure the parent is still there.
        libc("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0, what="pdeathsig")
        check_alive(alive_fd)
    if opts.guard:
        install_guard()
    # The working directory is the program's home too: libraries that look for ~
    # (matplotlib's config, nltk, caches) find a private, writable one.
    os.environ["TMPDIR"] = os.environ["HOME"] = os.getcwd()


def start_program(libc, opts, alive_fd):
    """In the forked program process: prepare, then run the untrusted code (or fail closed)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        prepare_program(libc, opts, alive_fd)
    except BaseException as exc:
        report(opts.status_fd, f"error {type(exc).__name__}: {exc}")
        os._exit(125)
    report(opts.status_fd, "ready")
    os.close(opts.status_fd)
    del libc
    run_program(opts)


def release_output():
    """Point our stdin/stdout/stderr at /dev/null: the pipes then reach EOF when the
    program side is gone."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def init_namespace(libc, opts, files, alive_fd):
    """pid 1 of the new pid namespace: build the filesystem, run the program as pid 2.

    The program is not init itself because the kernel shields init from signals it has
    no handler for: its own SIGXCPU, SIGTERM or abort() would be ignored. We report its
    wait status; when we exit, the kernel kills whatever is left in the namespace.
    """
    try:
        libc("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0, what="pdeathsig")
        check_alive(alive_fd)
        build_filesystem(libc, opts, files)
    except BaseException as exc:
        report(opts.status_fd, f"error {type(exc).__name__}: {exc}")
        os._exit(125)
    pid = os.fork()
    if pid == 0:
        start_program(libc, opts, None)
        return
    close_cgroup(opts)
    release_output()
    while True:  # as init we also reap the program's orphans
        reaped, status = os.wait()
        if reaped == pid:
            report(opts.status_fd, f"exit {status}")
            os._exit(0)


def run_program(opts):
    """Execute ./main.py as ``__main__`` the way ``python main.py`` would."""
    import builtins

    path = os.path.join(os.getcwd(), MAIN)
    sys.argv[:] = [path]
    sys.path[:0] = [os.path.dirname(path)]
    sys.path.extend(opts.path)
    module = type(sys)("__main__")
    module.__file__ = path
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    with open(MAIN, "rb") as handle:  # relative: our cwd's ancestors may be closed to us
        source = handle.read()
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != path:
            tb = tb.tb_next  # hide this file's frames, as a plain script run would
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        raise SystemExit(1) from None


def children():
    """Pids of our direct children (we are single-threaded, so one task file)."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as handle:
            return [int(pid) for pid in handle.read().split()]
    except FileNotFoundError:  # kernel without CONFIG_PROC_CHILDREN
        mine, found = os.getpid(), []
        for name in os.listdir("/proc"):
            try:
                with open(f"/proc/{name}/stat") as handle:
                    if int(handle.read().rpartition(")")[2].split()[1]) == mine:
                        found.append(int(name))
            except (OSError, ValueError, IndexError):
                continue
        return found


def kill_descendants():
    """As subreaper we inherit every orphan: kill and reap until none is left."""
    while True:
        for pid in children():
            try:  # noqa: SIM105 (see the imports)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.wait()
        except ChildProcessError:
            return


def on_sigterm(signum, frame):
    """The host's wall clock: kill our child (the program, or init and with it the
    namespace). Before the fork there is nothing to kill but ourselves."""
    if not _program_pid:
        os._exit(1)
    try:  # the pidfd cannot hit a recycled pid; the bare pid is unreaped, so safe too
        if _program_pidfd >= 0:
            signal.pidfd_send_signal(_program_pidfd, signal.SIGKILL)
        else:
            os.kill(_program_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def open_pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # Linux < 5.3
        return -1


def supervise(argv):
    global _program_pid, _program_pidfd
    opts = Options(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        libc = Libc()
        # Die (cleaning up through on_sigterm) if the host thread that started us dies.
        libc("prctl", PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0, what="pdeathsig")
        if os.getppid() != opts.parent:
            os._exit(1)
        open_cgroup(opts)
        files = []
        if opts.namespaces != "none":
            files = read_tree()  # before /tmp, where the host put them, is covered
            enter_namespaces(libc, opts)
        else:
            libc("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, what="subreaper")
    except Exception as exc:
        report(opts.status_fd, f"error {type(exc).__name__}: {exc}")
        os._exit(125)
    alive_r, alive_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(alive_w)
        if opts.namespaces == "none":
            start_program(libc, opts, alive_r)
        else:
            init_namespace(libc, opts, files, alive_r)
        return
    os.close(alive_r)
    close_cgroup(opts)
    _program_pid, _program_pidfd = pid, open_pidfd(pid)
    report(opts.status_fd, f"pid {pid}")
    release_output()
    _, status = os.waitpid(pid, 0)
    # From here on a SIGTERM must not interrupt the cleanup below: it is what the host
    # is waiting for, and it ends on its own.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if opts.namespaces == "none":  # else our child was init, which reported the program
        kill_descendants()
        report(opts.status_fd, f"exit {status}")
    os._exit(0)
