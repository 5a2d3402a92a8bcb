"""``scratchvae data``: where dataset files go, which are present, and whether they verify."""

HELP = "list datasets, the data directory, and whether each file is present and verified"

_STATE_TEXT = {
    "verified": "ok",
    "unrecorded": "ok (structure)",
    "missing": "missing",
    "corrupt": "CORRUPT",
}


def add_arguments(parser):
    """``scratchvae data``'s options (--root, --download) on its argparse sub-parser."""
    parser.add_argument(
        "--root", default=None, metavar="DIR",
        help="data directory (an existing folder); without it $SCRATCHVAE_DATA, else the user "
             "cache")
    parser.add_argument(
        "--download", action="append", default=[], metavar="NAME",
        help="download the missing files of dataset NAME (repeatable; 'all' for every dataset)")


def run(args):
    """Run ``scratchvae data`` with the parsed ``args``: list the dataset files and their state."""
    from scratchvae.commands.common import check_root
    from scratchvae.data import DATASETS, DataError, fetch, file_status
    from scratchvae.data.download import data_dir_and_source

    check_root(args.root)
    root, source = data_dir_and_source(args.root)
    names = list(DATASETS)
    requested = [name.strip().lower() for name in args.download]  # MNIST is mnist
    wanted = names if "all" in requested else requested
    unknown = [n for n in wanted if n not in DATASETS]
    if unknown:
        raise SystemExit(f"error: argument --download: unknown dataset(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(names)}, all (see scratchvae data --help)")
    failed = False
    for name in wanted:
        if DATASETS[name].directory is None:
            continue
        try:
            for path in fetch(name, root=args.root, download=True).values():
                print(f"{name}: {path} ok")
        except DataError as err:
            print(f"{name}: {err}")
            failed = True

    print(f"data directory: {root}  (from the {source}; "
          "change it with --root DIR or $SCRATCHVAE_DATA)")
    print()
    for name, info in DATASETS.items():
        print(f"{name:14s} {info.title}")
        if info.directory is None:
            print(f"{'':14s} generated on the fly, no files")
            continue
        statuses = file_status(name, root=args.root)
        where = f"{root / info.directory}/"
        if info.any_of:
            where += "  (any one of these files is enough)"
        print(f"{'':14s} {where}")
        for st in statuses:
            print(f"{'':14s}   {_STATE_TEXT[st.state]:15s} {st.file:28s} {st.checksum}")
            if st.state == "corrupt":
                print(f"{'':14s}   {'':15s} {st.detail}")
                failed = True
    return 1 if failed else 0
