"""A WSGI app for tests/test_gunicorn_worker.py, served by gunicorn with make run's configuration.

`/hold/<name>` writes `<name>.started` (holding the worker's pid) under BUSY_APP_DIR, then answers only once
`<name>.release` appears there; `/arenas` has eight threads allocate at once and answers how many arenas glibc's
malloc then has; any other path answers the worker's pid at once.
"""

import ctypes
import os
import re
import threading
import time
from pathlib import Path


def malloc_arenas(root: Path) -> int:
    """Eight threads alive at once, each allocating outside Python's small-object allocator; then the number of
    arenas malloc_info(3) lists."""
    barrier = threading.Barrier(8)

    def allocate() -> None:
        held = [bytearray(4096) for _ in range(64)]
        barrier.wait()
        del held

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    report = root / f"malloc-info-{os.getpid()}.xml"
    out = libc.fopen(str(report).encode(), b"w")
    libc.malloc_info(0, out)
    libc.fclose(out)
    return len(re.findall(r'<heap nr="\d+">', report.read_text()))


def application(environ, start_response):
    root = Path(os.environ["BUSY_APP_DIR"])
    path = environ["PATH_INFO"]
    if path.startswith("/hold/"):
        name = path.removeprefix("/hold/")
        (root / f"{name}.started").write_text(str(os.getpid()))
        deadline = time.monotonic() + 30
        while not (root / f"{name}.release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    elif path == "/arenas":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(malloc_arenas(root)).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
