#!/usr/bin/python3
"""Runs a command on a terminal of its own and answers its prompts, as a
user at a terminal would: for a client that asks for a password only on
a terminal (svn opens /dev/tty).  The command is the leader of a new
session whose controlling terminal is a pty, so the /dev/tty it opens is
that pty, never the caller's.

    pty_answer.py TIMEOUT CMD ARGS... < answers > transcript

Each line on stdin answers one prompt, in order: output that ends in
": " or "? " and waits for input.  A prompt after the last answer gets
end of input (^D).  All the command wrote is copied to stdout, CRs
dropped.  The exit status is the command's, or 124 when it ran past
TIMEOUT seconds (a guard against a hang, not a measure) and was killed."""
import os
import pty
import select
import signal
import sys
import time


def main():
    limit = float(sys.argv[1])
    cmd = sys.argv[2:]
    answers = sys.stdin.read().splitlines()
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    deadline = time.monotonic() + limit
    pending = b''
    out = sys.stdout.buffer
    killed = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            break  # EIO: the command has ended and closed the terminal
        if not data:
            break
        out.write(data.replace(b'\r', b''))
        out.flush()
        pending += data
        if pending.endswith(b': ') or pending.endswith(b'? '):
            os.write(fd, (answers.pop(0) + '\n').encode() if answers else b'\x04')
            pending = b''
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    sys.exit(124 if killed else os.waitstatus_to_exitcode(status))


main()
