"""``graphrep data list`` (the registered datasets) and ``graphrep data info NAME`` (a card, and where its files are)."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    data = subparsers.add_parser("data", help="the dataset registry")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    listing = data_sub.add_parser("list", help="registered datasets")
    listing.add_argument("--kind", help="only this kind (molecules, ogb, tag, mobility, circuit)")
    info = data_sub.add_parser("info", help="a dataset's card, and whether its files are found")
    info.add_argument("name")
    info.add_argument("--root")


def run(args) -> int:
    from graphrep.data import list_cards
    from graphrep.data.registry import get_card
    from graphrep.data.resolve import resolve_file

    if args.data_command == "list":
        cards = [c for c in list_cards() if not args.kind or c.kind == args.kind]
        width = max(len(c.name) for c in cards) if cards else 4
        print(f"{'name':<{width}}  {'kind':<9}  {'rows':>7}  {'task':<14}  title")
        for c in cards:
            print(f"{c.name:<{width}}  {c.kind:<9}  {c.rows:>7}  {c.task_type:<14}  {c.title}")
        return 0
    card = get_card(args.name)
    print(f"{card.name}: {card.title}")
    for key in ("kind", "task_type", "rows", "split", "license", "citation", "homepage"):
        print(f"  {key:<9} {getattr(card, key)}")
    if card.option("members"):
        print(f"  members   {', '.join(card.option('members'))} (deduplicated by canonical SMILES)")
    if card.option("path"):
        print(f"  file      <root>/{card.option('path')}\n  obtain    {card.option('obtain', card.homepage)}")
    for f in card.files:
        try:
            where = str(resolve_file(card, f, root=args.root, download=False))
        except Exception as exc:  # not found / checksum: report, do not fail the listing
            where = f"NOT AVAILABLE ({exc})"
        print(f"  file      {f.path}\n    sha256  {f.content_sha256} (decompressed content)\n    source  "
              f"{f.url or ('package ' + f.package if f.package else card.homepage)}\n    found   {where}")
    return 0
