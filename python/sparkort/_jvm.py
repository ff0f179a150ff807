"""Where the sparkort jar is, for `spark.jars` / `--jars`."""

from __future__ import annotations

import os
from pathlib import Path

_VERSION = "0.1.0"


def jar_path() -> str:
    """The sparkort jar: the one bundled in this package, else the repository's build output.

    SPARKORT_JAR overrides both.
    """
    override = os.environ.get("SPARKORT_JAR")
    candidates = [Path(override)] if override else []
    here = Path(__file__).resolve().parent
    candidates += [here / "jars" / f"sparkort-{_VERSION}.jar", here.parents[1] / "dist" / f"sparkort-{_VERSION}.jar"]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError("no sparkort jar at " + ", ".join(str(c) for c in candidates) + "; run `make build`")
