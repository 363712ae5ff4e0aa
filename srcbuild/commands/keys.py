"""keys generate: an ed25519 key pair for signing binary cache entries (the library is
srcbuild.signing)."""

from __future__ import annotations

import argparse

from srcbuild.errors import EXIT_OK, UsageError
from srcbuild.signing import generate


def keys(args: argparse.Namespace) -> int:
    """`srcbuild keys generate DIR` (the only action so far)."""
    try:
        key, pub, kid = generate(args.dir)
    except FileExistsError as e:  # a 2**64 coincidence or a copied folder: never overwrite
        raise UsageError(f"{e.filename} exists; srcbuild never overwrites a key.") from None
    except OSError as e:
        raise UsageError(f"Cannot write a key pair into {args.dir}: {e.strerror or e}.",
                         "Give a folder you may write to.") from None
    print(f"key id {kid}\n"
          f"private key {key} (mode 0600): give it to the machine that pushes, as "
          f"--signing-key {key}\n"
          f"public key  {pub}: copy it into the --trusted-keys folder of machines that restore")
    return EXIT_OK
