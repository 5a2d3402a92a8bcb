"""``scratchvae homework``: release student notebooks and grade submitted ones.

    scratchvae homework release notebooks/homework/ release/        # strip solutions
    scratchvae homework check alice/hw1_backprop.ipynb --release notebooks/homework/
                                                                     # grade, print a score table
"""

from scratchvae.commands.common import positive_int

HELP = "release student notebooks from solution notebooks; check (grade) a submitted notebook"


def add_arguments(parser):
    """``scratchvae homework``'s actions (release, check) on its argparse sub-parser."""
    sub = parser.add_subparsers(dest="homework_command", metavar="ACTION")
    rel = sub.add_parser(
        "release", help="write student versions: solutions stubbed, answer keys removed, "
                        "outputs cleared",
        description="Write student versions of solution notebooks: code between ### BEGIN "
                    "SOLUTION / ### END SOLUTION becomes `# YOUR CODE HERE` + `raise "
                    "NotImplementedError()`, written answers become YOUR ANSWER HERE, mark "
                    "schemes are removed and outputs cleared.")
    rel.add_argument("src", metavar="SRC", help="a solution notebook or a folder of them")
    rel.add_argument("dst", metavar="DST", help="output notebook or folder")
    chk = sub.add_parser(
        "check", help="grade notebook(s) against the release and print the score of each "
                      "check cell (exit 0 when all pass)",
        description="Grade submitted notebook(s): the check cells and points come from the "
                    "release (--release), the submission's functions run in a separate process "
                    "in a temporary folder. Prints a per-exercise score table; exit code 0 only "
                    "when every automatic check passes.")
    chk.add_argument("notebooks", metavar="NOTEBOOK", nargs="+", help="notebook(s) to grade")
    chk.add_argument("--release", metavar="PATH", default=None,
                     help="the instructor's notebook, or a folder holding one of the same name "
                          "(default: the project's notebooks/homework)")
    chk.add_argument("--timeout", type=positive_int, default=300,
                     help="seconds allowed for each cell and each call of a student function")
    chk.add_argument("--kernel", default=None, help="not used any more (kept for old scripts)")
    chk.add_argument("--json", metavar="PATH", default=None,
                     help="also write the scores as JSON to PATH")


def run(args):
    """Run the ``scratchvae homework`` action chosen in the parsed ``args``."""
    import sys

    action = getattr(args, "homework_command", None)
    if action == "release":
        from scratchvae.homework.release import ReleaseError, release

        try:
            written = release(args.src, args.dst)
        except ReleaseError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
        return 0
    if action == "check":
        import json
        from pathlib import Path

        from scratchvae.homework.grade import grade_notebook

        grades = []
        for notebook in args.notebooks:
            if not Path(notebook).is_file():
                print(f"error: NOTEBOOK {notebook} does not exist", file=sys.stderr)
                return 2
            try:
                grade = grade_notebook(notebook, release=args.release, timeout=args.timeout)
            except (ImportError, ValueError) as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            print(grade.table())
            print()
            grades.append(grade)
        if args.json:
            Path(args.json).write_text(json.dumps([g.to_dict() for g in grades], indent=1))
        return 0 if all(g.all_passed for g in grades) else 1
    print("usage: scratchvae homework {release SRC DST | check NOTEBOOK} (see --help)",
          file=sys.stderr)
    return 2
