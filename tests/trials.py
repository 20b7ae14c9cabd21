"""Tiny trial programs whose progress a test controls by creating files in the workspace."""

from __future__ import annotations

import textwrap

WAIT_FOR = textwrap.dedent("""
    import os, subprocess, sys, time
    def wait_for(name):
        while not os.path.exists(name):
            time.sleep(0.01)
""")

# Prints "started", then waits for the file "go" and exits with the code given as argument.
GATED = WAIT_FOR + textwrap.dedent("""
    print("started", os.getpid(), flush=True)
    wait_for("go")
    print("finished", flush=True)
    sys.exit(int(sys.argv[1]))
""")

# Writes two lines and half a third, then the rest when told; the log as a monitor sees it.
STEPPED = WAIT_FOR + textwrap.dedent("""
    wait_for("go1")
    sys.stdout.write("line 1\\nline 2\\npartial"); sys.stdout.flush()
    wait_for("go2")
    sys.stdout.write(" rest\\nline 4\\n"); sys.stdout.flush()
    wait_for("go3")
""")

# Starts a grandchild in its own process group's reach and records its pid, then waits forever.
SPAWNER = WAIT_FOR + textwrap.dedent("""
    child = subprocess.Popen(["sleep", "60"])
    with open("child.pid.tmp", "w") as f:
        f.write(str(child.pid))
    os.replace("child.pid.tmp", "child.pid")
    wait_for("never")
""")
