from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sparkort  # noqa: E402


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return Path(os.environ.get("SPARKORT_TEST_MODELS", Path(__file__).resolve().parents[2] / "build" / "test-models"))


@pytest.fixture(scope="session")
def spark() -> Iterator["pyspark.sql.SparkSession"]:  # noqa: F821
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("sparkort-pytest")
        .config("spark.jars", sparkort.jar_path())
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    yield session
    session.stop()
