"""`python -m tools.badinput`: bad input against the five CLIs and the public APIs, every outcome counted.

Each case is one bad input (a number out of range, a broken file, a run folder in use, a
Ctrl-C ...) with the exit status it must end with and a pattern its one line on stderr must
match (for an API call: the exception class and a pattern for its message).  A few cases are
good-but-awkward input (a UTF-8 byte order mark, CRLF line ends, BIOES tags) that must be
*read correctly*.  Every case ends in one of:

    clear      the expected status and a matching one-line message (or the right result)
    unclear    no traceback, but another status or a line that does not say what is wrong
    traceback  an exception escaped (a bug)
    accepted   exit 0 / no exception where an error was due, or a wrong result (silently wrong)
    hang       no answer within the case's time limit
    damaged    a run folder that held a trained run changed although the command failed

The tool prints the count per outcome and every case that is not clear, and exits non-zero
unless all are clear.  It builds tiny data files and tiny trained runs in a temporary folder,
runs most cases in this process (fast) and the rest (Ctrl-C, console scripts) as
subprocesses, four at a time (they mostly wait).  `make test-all` runs it.
"""
