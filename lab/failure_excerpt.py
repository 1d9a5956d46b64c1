"""Print the cause of a failed lab run in a few lines, from its full log.

CI keeps only the tail of `make test`'s output, so the scripts that run the lab print this excerpt
last: the failed Ansible task (its name, msg, rc, stderr and stdout; at most MAX_LINES in all) and pytest's
failure summary lines. Usage: failure_excerpt.py LOG [MAX_LINES]
"""
import re
import sys

WIDTH = 200
KEEP_KEYS = ("msg", "rc", "stderr", "stdout", "module_stderr", "module_stdout", "reason")
BLOCK_STARTS = ("|-", "|", ">-", ">")  # YAML block scalars: the value is on the lines below


def ansible_failure(lines):
    """The last failed task's name and its interesting result keys, or []."""
    idx = None
    for i, line in enumerate(lines):
        if re.match(r"^(fatal|failed): \[", line):
            end = next((j for j in range(i + 1, len(lines)) if lines[j] and not lines[j].startswith(" ")), None)
            if end is None or lines[end].strip() != "...ignoring":
                idx = i
    if idx is None:
        return []
    task = next((lines[j] for j in range(idx, -1, -1) if lines[j].startswith("TASK [")), "")
    out = [task.rstrip(" *")] if task else []
    out.append(lines[idx])
    key = None
    for line in lines[idx + 1:]:
        if line and not line.startswith(" "):
            break  # end of the result block (PLAY RECAP, next TASK, ...)
        m = re.match(r"^ {4}(\w+):(.*)$", line)
        if m:
            key, value = m.group(1), m.group(2).strip()
            if key in KEEP_KEYS and value in BLOCK_STARTS:
                out.append("    %s:" % key)  # its lines follow
            elif key in KEEP_KEYS and value != "''":
                out.append(line)
            continue
        if key in KEEP_KEYS and line.strip():
            out.append(line)
    return out


def pytest_failures(lines):
    """pytest's short summary lines (FAILED/ERROR test - reason)."""
    return [line for line in lines if re.match(r"^(FAILED|ERROR) \S+", line)]


def main(argv):
    path = argv[1]
    limit = int(argv[2]) if len(argv) > 2 else 16
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [re.sub(r"\x1b\[[0-9;]*m", "", raw.rstrip("\n")) for raw in handle]
    except OSError as exc:
        print("failure_excerpt: cannot read %s: %s" % (path, exc))
        return 0
    # The phase prefixes added by run-molecule.sh's tee ("[verify] ") are not in the log itself.
    excerpt = ansible_failure(lines) + pytest_failures(lines)
    if not excerpt:
        return 0
    print("--- cause (from %s)" % path)
    for line in excerpt[:limit]:
        print(line if len(line) <= WIDTH else line[:WIDTH] + " ...")
    if len(excerpt) > limit:
        print("... %d more line(s) in the log" % (len(excerpt) - limit))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
