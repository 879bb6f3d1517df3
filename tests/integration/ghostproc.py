"""ghostproc.py - what the Python test parents share: a ghost's real
process and the fields of /proc/PID/stat, as this host's /proc sees them,
and waitpid() with a time limit.  Imported by stop-signals.py and
stopped-moves.py (their directory is on sys.path when run as scripts)."""
import os
import signal


def stat_of(pid):
    """Fields of /proc/PID/stat from the state on ([0]); [] if gone."""
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return []


def real_all(pid):
    """Every other task whose innermost pid is pid: the real process of a
    ghost, and for a moment after a move between nodes its original on
    the source too (killed once the copy runs, or has its pages)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == pid:
            continue
        try:
            for line in open("/proc/%s/status" % d):
                if line.startswith("NSpid:") and line.split()[-1] == str(pid):
                    found.append(int(d))
        except OSError:
            pass
    return found


def real_of(pid):
    """The real process of a ghost (the first such task, see real_all)."""
    found = real_all(pid)
    return found[0] if found else None


def _on_alarm(sig, frame):
    raise TimeoutError


def next_wait_status(pid, secs=5):
    """The next waitpid(WUNTRACED | WCONTINUED) status of pid, None if
    nothing comes within secs."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(secs)
    try:
        return os.waitpid(pid, os.WUNTRACED | os.WCONTINUED)[1]
    except TimeoutError:
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
