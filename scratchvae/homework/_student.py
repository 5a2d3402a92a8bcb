"""The student's process of a grading run: ``python -m scratchvae.homework._student IN OUT``.

The grader (:mod:`scratchvae.homework.grade`) starts this process in a fresh temporary folder,
in a process group of its own, and talks to it over two pipes (file descriptors IN and OUT)
in the messages of :mod:`scratchvae.homework._wire` (JSON and ``.npy``; no pickle). This process
runs the submission's code cells and, on request, calls one of the functions they defined with
the arguments the grader sent; only the result (and the arguments' state after the call, for
functions that update them in place) goes back. The checkers, the points and the score stay in
the grader's process, which never runs student code.

Before any student code runs, this process:

- replaces every function, method and property getter of scratchvae (the references the
  checks compare with) by one that reports a call made while a graded function runs, from any
  thread, unless the exercise allows it; this does not rely on ``sys.setprofile``, which
  student code can switch off;
- installs an audit hook (which Python code cannot remove) that refuses to start processes,
  to send signals, to write, delete, rename or change files outside its temporary folder, and
  to run scratchvae's module code again (``importlib.reload``).

This is a guard against the usual ways of cheating and accidents, not a security sandbox:
native code (ctypes, a compiled extension) and a student who copies the reference's source
into a file of their own are not stopped. See the instructor page.
"""

import functools
import importlib
import os
import pkgutil
import sys
import threading
import traceback
import types

from scratchvae.homework import _wire

NOT_WRAPPED = (os.path.join("homework", "_student.py"), os.path.join("homework", "_wire.py"),
               os.path.join("homework", "grade.py"), "__main__.py")
"""Files (relative to the package) whose functions are not references: this process's own
machinery. Files, not module names: a module's dotted name in a string counts as importing it,
and the grader, which starts this module, would then be in an import cycle with it."""

_local = threading.local()
WATCH = {"on": False, "allowed": frozenset(), "calls": []}
"""While a graded function runs: ``on``; the (file, qualname) keys it may call; calls seen."""


def _package_dir():
    """The folder scratchvae is imported from, ending in a separator."""
    import scratchvae

    return os.path.dirname(os.path.abspath(scratchvae.__file__)) + os.sep


def code_key(code, package_dir):
    """(file relative to the package, qualified name): one function on both sides."""
    return (os.path.relpath(code.co_filename, package_dir),
            getattr(code, "co_qualname", code.co_name))


def _reporting(fn, key, name):
    """``fn`` wrapped: a call from outside the package while a graded function runs is
    recorded (calls it makes in turn are its business)."""

    @functools.wraps(fn)
    def reference(*args, **kwargs):
        depth = getattr(_local, "depth", 0)
        if depth == 0 and WATCH["on"] and key not in WATCH["allowed"]:
            if name not in WATCH["calls"]:
                WATCH["calls"].append(name)
        _local.depth = depth + 1
        try:
            return fn(*args, **kwargs)
        finally:
            _local.depth = depth

    del reference.__wrapped__  # no way back to the unwatched function from the wrapper
    return reference


def _is_machinery(module, package_dir):
    """Whether ``module`` is one of the :data:`NOT_WRAPPED` files (False for None)."""
    filename = getattr(module, "__file__", None)
    return bool(filename) and os.path.relpath(filename, package_dir) in NOT_WRAPPED


def _import_every_module():
    """Import every scratchvae module (one whose optional dependency is missing is skipped)."""
    import scratchvae

    for info in pkgutil.walk_packages(scratchvae.__path__, "scratchvae."):
        try:
            importlib.import_module(info.name)
        except Exception:  # an optional dependency missing: nothing there to call either
            pass


def _wrapper_maker(package_dir):
    """``wrapped(fn)``: the reporting wrapper of a function of the package (the same one for
    every name it has); a function from elsewhere is returned as it is."""
    wrappers = {}

    def wrapped(fn):
        code = fn.__code__
        if not code.co_filename.startswith(package_dir):
            return fn
        if fn not in wrappers:
            key = code_key(code, package_dir)
            wrappers[fn] = _reporting(fn, key, f"{fn.__module__}.{fn.__qualname__}")
        return wrappers[fn]

    return wrapped


def _wrap_module_functions(module, wrapped):
    """Replace the module's functions by their wrappers; the package's classes it holds."""
    classes = set()
    for attr, value in list(vars(module).items()):
        if attr.startswith("__"):
            continue
        if isinstance(value, types.FunctionType):
            setattr(module, attr, wrapped(value))
        elif isinstance(value, type) and value.__module__.startswith("scratchvae"):
            classes.add(value)
    return classes


def _wrapped_attribute(value, wrapped):
    """A class attribute with its function(s) wrapped: a plain function, static or class
    method, or property getter; None for anything else."""
    if isinstance(value, types.FunctionType):
        return wrapped(value)
    if isinstance(value, (staticmethod, classmethod)):
        return type(value)(wrapped(value.__func__))
    if isinstance(value, property) and isinstance(value.fget, types.FunctionType):
        return property(wrapped(value.fget), value.fset, value.fdel, value.__doc__)
    return None


def _wrap_class_methods(cls, wrapped):
    """Replace the class's methods (``__init__`` and ``__call__``, not other dunders) by their
    wrappers."""
    for attr, value in list(vars(cls).items()):
        if attr.startswith("__") and attr not in ("__init__", "__call__"):
            continue
        try:
            new_value = _wrapped_attribute(value, wrapped)
            if new_value is not None:
                setattr(cls, attr, new_value)
        except (AttributeError, TypeError):  # a read-only class (NamedTuple, enum)
            pass


def wrap_references():
    """Import every scratchvae module and replace its functions and its classes' methods by
    reporting wrappers (one wrapper per function, shared by every name it has)."""
    package_dir = _package_dir()
    _import_every_module()
    wrapped = _wrapper_maker(package_dir)
    classes = set()
    for module_name, module in list(sys.modules.items()):
        if not (module_name == "scratchvae" or module_name.startswith("scratchvae.")):
            continue
        if module is None or _is_machinery(module, package_dir):
            continue
        classes |= _wrap_module_functions(module, wrapped)
    for cls in classes:
        if not _is_machinery(sys.modules.get(cls.__module__), package_dir):
            _wrap_class_methods(cls, wrapped)


# -- the guard --------------------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATH_EVENTS = {  # event -> position of its dir_fd argument (-1 or None: none given)
    "os.remove": 1, "os.rmdir": 1, "os.mkdir": 2, "os.chmod": 2, "os.chown": 3, "os.utime": 3,
    "os.mkfifo": 2, "os.mknod": 3, "shutil.rmtree": 1, "os.truncate": None,
    "os.chflags": None, "os.setxattr": None, "os.removexattr": None}
_TWO_PATH_EVENTS = ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.copymode",
                    "shutil.copystat", "shutil.copytree")
_PROCESS_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                   "os.fork", "os.forkpty", "pty.spawn", "os.kill", "os.killpg",
                   "os.startfile", "os.pidfd_open", "signal.pthread_kill")


def _is_inside(home, path, dir_fd=None):
    """Whether ``path`` (relative to the open folder ``dir_fd`` if given) is under ``home``
    (a real path ending in a separator) or is an allowed file; an open descriptor is."""
    if isinstance(path, int):  # an open file descriptor: opened under this guard
        return True
    try:
        path = os.fsdecode(os.fspath(path))
        if dir_fd not in (None, -1):  # relative to an open folder (shutil.rmtree does it)
            path = os.path.join(os.readlink(f"/proc/self/fd/{int(dir_fd)}"), path)
    except (TypeError, ValueError, OSError):
        return False
    real = os.path.realpath(path)
    return (real + os.sep).startswith(home) or real in _ALLOWED_FILES


_ALLOWED_FILES = ("/dev/null",)


def _refuse_package_exec(args, package_dir):
    """Refuse running code compiled from the package's files (a reload)."""
    if getattr(args[0], "co_filename", "").startswith(package_dir):
        raise PermissionError("grading: running scratchvae's module code again "
                              "(importlib.reload) is not allowed")


def _refuse_open_outside(args, inside):
    """Refuse opening a file outside the submission's folder for writing."""
    path, mode, flags = args
    if isinstance(mode, str):
        writes = any(c in mode for c in "wax+")
    else:
        writes = bool((flags or 0) & _WRITE_FLAGS)
    if writes and not inside(path):
        raise PermissionError(f"grading: writing {path!r} (outside the submission's "
                              "folder) is not allowed")


def _refuse_path_event_outside(event, args, inside):
    """Refuse a one-path event (remove, mkdir, chmod, ...) outside the submission's folder."""
    at = _PATH_EVENTS[event]
    dir_fd = args[at] if at is not None and len(args) > at else None
    if not inside(args[0], dir_fd):
        raise PermissionError(f"grading: {event} on {args[0]!r} (outside the "
                              "submission's folder) is not allowed")


def _two_path_dir_fds(event, args):
    """(source dir_fd, destination dir_fd) of a two-path event's arguments (None: none)."""
    if event == "os.symlink":  # (src, dst, dir_fd): only the new link matters
        return None, args[2] if len(args) > 2 else None
    if event in ("os.rename", "os.link"):  # (src, dst, src_dir_fd, dst_dir_fd)
        return (tuple(args[2:4]) + (None, None))[:2]
    return None, None


def _refuse_two_path_event_outside(event, args, inside):
    """Refuse a rename, link, copy, ... whose destination (or a rename's source) is outside
    the submission's folder."""
    src_fd, dst_fd = _two_path_dir_fds(event, args)
    if (not inside(args[1], dst_fd)
            or (event == "os.rename" and not inside(args[0], src_fd))):
        raise PermissionError(f"grading: {event} {args[0]!r} -> {args[1]!r} (outside "
                              "the submission's folder) is not allowed")


def install_guard(home, package_dir):
    """An audit hook refusing (PermissionError) what a graded notebook has no business doing:
    starting processes, signalling them, changing files outside ``home``, and running
    scratchvae's module code again (``importlib.reload`` would give unwatched functions)."""
    inside = functools.partial(_is_inside, os.path.realpath(home) + os.sep)

    def hook(event, args):
        if event == "exec":
            _refuse_package_exec(args, package_dir)
        elif event == "open":
            _refuse_open_outside(args, inside)
        elif event in _PATH_EVENTS:
            _refuse_path_event_outside(event, args, inside)
        elif event in _TWO_PATH_EVENTS:
            _refuse_two_path_event_outside(event, args, inside)
        elif event in _PROCESS_EVENTS:
            raise PermissionError(f"grading: {event} is not allowed (a graded notebook may "
                                  "not start or signal processes)")

    sys.addaudithook(hook)


# -- running cells and calls --------------------------------------------------------------------


class Shell:
    """Runs cell sources: in IPython's InteractiveShell when it is installed (magics work),
    else with plain ``exec`` (lines starting with % or ! are skipped)."""

    def __init__(self):
        try:
            from IPython.core.interactiveshell import InteractiveShell
            from traitlets.config import Config
        except ImportError:
            self.ipython = None
            self.namespace = {"__name__": "__main__"}
        else:
            config = Config()
            config.HistoryManager.enabled = False
            self.ipython = InteractiveShell.instance(config=config)
            self.namespace = self.ipython.user_ns

    def run(self, source):
        """Run one cell; the error it ended with ("Name: message") or None."""
        if self.ipython is not None:
            result = self.ipython.run_cell(source, store_history=False)
            err = result.error_in_exec or result.error_before_exec
            return None if err is None else _describe(err)
        lines = [line for line in source.splitlines()
                 if not line.lstrip().startswith(("%", "!"))]
        try:
            exec(compile("\n".join(lines), "<cell>", "exec"), self.namespace)
        except BaseException as err:  # the student's cell failed: go on, like a notebook
            traceback.print_exc()
            return _describe(err)
        return None


def _describe(err):
    """``"Name: message"`` of an exception, cut to 2000 characters."""
    text = f"{type(err).__name__}: {err}"
    return text if len(text) < 2000 else text[:1997] + "..."


class Callback:
    """A function of the grader's (e.g. the ``f`` of numerical_gradient): calling it asks the
    grader to run it on these arguments and waits for the result."""

    def __init__(self, channel, ident):
        self._channel = channel
        self._ident = ident

    def __call__(self, *args):
        node, arrays = _wire.encode(list(args))
        reply, arrays = self._channel.ask({"op": "callback", "id": self._ident, "args": node},
                                          arrays)
        if reply.get("op") == "raise":
            raise exception_named(reply.get("name", "Exception"), reply.get("message", ""))
        return _wire.decode(reply["value"], arrays)


def exception_named(name, message):
    """An exception of the builtin class ``name``, else of a new class of that name."""
    import builtins

    cls = getattr(builtins, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(str(name) if str(name).isidentifier() else "Error", (Exception,), {})
    return cls(message)


class Channel:
    """The student's end of the pipes to the grader: receive, send, ask (send, then receive)."""

    def __init__(self, fd_in, fd_out):
        self.fd_in, self.fd_out = fd_in, fd_out

    def receive(self):
        return _wire.receive(self.fd_in)

    def send(self, message, arrays=()):
        _wire.send(self.fd_out, message, arrays)

    def ask(self, message, arrays=()):
        self.send(message, arrays)
        return self.receive()


def _shadow(value):
    """The structure of the arguments as sent: which object sat where (for the sync back)."""
    if isinstance(value, dict):
        return (value, {k: _shadow(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return (value, [_shadow(v) for v in value])
    return (value, None)


def _sync(value, shadow, arrays):
    """The arguments' state after the call: for each place, whether the object there is the
    one sent (then its new content) or a new one (then its value)."""
    original, children = shadow
    if value is not original:
        node, _ = _wire.encode(value, None, arrays)
        return {"same": False, "node": node}
    if isinstance(value, dict):
        return {"same": True, "t": "dict", "items": [
            [k, _sync(v, children[k], arrays) if k in children
             else {"same": False, "node": _wire.encode(v, None, arrays)[0]}]
            for k, v in value.items() if isinstance(k, str)]}
    if isinstance(value, (list, tuple)):
        return {"same": True, "t": "list" if isinstance(value, list) else "tuple", "items": [
            _sync(v, children[i], arrays) if i < len(children)
            else {"same": False, "node": _wire.encode(v, None, arrays)[0]}
            for i, v in enumerate(value)]}
    if hasattr(value, "params") and isinstance(getattr(value, "params", None), dict):
        node, _ = _wire.encode(dict(value.params), None, arrays)
        return {"same": True, "t": "model", "params": node}
    node, _ = _wire.encode(value, None, arrays)
    return {"same": True, "t": "leaf", "node": node}


def serve(channel, shell):
    """Answer the grader's messages (run, lookup, call) until it says exit or closes."""
    import scratchvae as sv

    while True:
        try:
            message, arrays = channel.receive()
        except _wire.WireError:
            return
        op = message.get("op")
        if op == "exit":
            return
        if op == "run":
            channel.send({"op": "ran", "error": shell.run(message["source"])})
        elif op == "lookup":
            value = shell.namespace.get(message["name"], _MISSING)
            if value is _MISSING:
                channel.send({"op": "missing"})
            elif callable(value) and not isinstance(value, type):
                channel.send({"op": "function"})
            else:
                node, out = _wire.encode(value)
                channel.send({"op": "data", "value": node}, out)
        elif op == "call":
            _call(channel, shell, message, arrays, sv)


_MISSING = object()


def _call(channel, shell, message, arrays, sv):
    """Call a student function as ``message`` asks, watched; send back its result, error,
    the package calls it made and the arguments' state after the call."""
    def custom(node):
        if node["t"] == "callback":
            return Callback(channel, node["id"])
        if node["t"] == "function":
            return shell.namespace.get(node["name"])
        if node["t"] == "model":
            return sv.load(node["path"])
        raise _wire.WireError(f"unknown value tag {node['t']!r}")

    fn = shell.namespace.get(message["name"])
    args = _wire.decode(message["args"], arrays, custom)
    kwargs = _wire.decode(message["kwargs"], arrays, custom)
    shadow = _shadow(args)
    WATCH["allowed"] = frozenset(tuple(key) for key in message.get("allowed", ()))
    WATCH["calls"] = []
    error = result = None
    WATCH["on"] = True
    try:
        result = fn(*args, **kwargs)
    except BaseException as err:  # the student's function failed: the grader says how
        error = {"name": type(err).__name__, "message": str(err)[:2000],
                 "not_implemented": isinstance(err, NotImplementedError)}
    finally:
        WATCH["on"] = False
    calls = list(WATCH["calls"])
    out = []
    try:
        value, _ = _wire.encode(result, None, out)
    except Exception as err:  # a result that cannot even be described
        value, error = {"t": "v", "v": None}, {"name": type(err).__name__, "message": str(err),
                                               "not_implemented": False}
    after = _sync(args, shadow, out)
    channel.send({"op": "result", "value": value, "error": error, "calls": calls,
                  "args_after": after}, out)


def main(argv=None):
    """The student's process: ``argv`` = (fd to read from, fd to write to)."""
    argv = sys.argv[1:] if argv is None else argv
    fd_in, fd_out = int(argv[0]), int(argv[1])
    sys.stdin = open(os.devnull)
    package_dir = _package_dir()
    wrap_references()
    shell = Shell()
    install_guard(os.getcwd(), package_dir)
    channel = Channel(fd_in, fd_out)
    channel.send({"op": "ready", "ipython": shell.ipython is not None})
    serve(channel, shell)


if __name__ == "__main__":
    main()
