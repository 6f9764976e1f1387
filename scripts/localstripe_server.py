"""localstripe, keeping its state in a file of our choosing.

localstripe itself always saves to and loads from /tmp/localstripe.pickle, one file shared by
every localstripe on the machine (a second project, or the test suite, would read and overwrite
the first one's customers). `--state FILE` keeps this one's state in FILE, written whole and
then renamed so it is never read half-written; without it the state lives in memory only.

    python scripts/localstripe_server.py --port 8420 --state instance/localstripe.pickle
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

from localstripe import resources, server


def keep_state_in(path: Path | None) -> None:
    def load(store: resources.Store) -> None:
        if path is not None and path.exists():
            saved = pickle.loads(path.read_bytes())
            dict.clear(store)
            dict.update(store, saved)

    def save(store: resources.Store) -> None:
        if path is None:
            return
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(pickle.dumps(dict(store), protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(path)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, help="where to keep the state (default: memory only)")
    args, localstripe_args = parser.parse_known_args()
    if args.state is not None:
        args.state.parent.mkdir(parents=True, exist_ok=True)
    keep_state_in(args.state)
    sys.argv = [sys.argv[0], *localstripe_args]
    server.start()


if __name__ == "__main__":
    main()
