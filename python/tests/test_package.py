"""The wheel (dist/sparkort-<version>-py3-none-any.whl) and the quickstart that `make demo` runs."""

from __future__ import annotations

import email
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import sparkort

from conftest import REPO

PACKAGE = REPO / "python" / "sparkort"


def wheel() -> Path:
    path = Path(os.environ.get("SPARKORT_WHEEL", REPO / "dist" / f"sparkort-{sparkort.__version__}-py3-none-any.whl"))
    assert path.is_file(), f"{path} is missing: run `make build`"
    return path


def test_wheel_carries_the_jar_and_the_typed_package() -> None:
    with zipfile.ZipFile(wheel()) as whl:
        names = set(whl.namelist())
        jar = f"sparkort/jars/sparkort-{sparkort.__version__}.jar"
        assert whl.read(jar) == Path(sparkort.jar_path()).read_bytes(), "the bundled jar is the one built"
        expected = {f"sparkort/{p.name}" for p in PACKAGE.iterdir() if p.suffix == ".py" or p.name == "py.typed"}
        assert expected <= names, expected - names
        metadata = email.message_from_bytes(whl.read(f"sparkort-{sparkort.__version__}.dist-info/METADATA"))
    assert metadata["Requires-Python"] == ">=3.9"
    assert metadata.get_all("Requires-Dist") == ["pyspark[ml]>=3.5"]


def test_quickstart_scores_the_digits_as_scikit_learn_does() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    run = subprocess.run(
        [sys.executable, str(REPO / "examples" / "quickstart.py"), "--rows", "20000"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    accuracy = re.search(r"accuracy on (\d+) held-out digits: ([0-9.]+) \(scikit-learn on the same digits: ([0-9.]+)\)", run.stdout)
    assert accuracy, run.stdout
    assert accuracy.group(2) == accuracy.group(3), "sparkort's predictions score as scikit-learn's own"
    assert float(accuracy.group(2)) > 0.9
    assert re.search(r"scored [\d,]+ rows at [\d,]+ rows/s", run.stdout), run.stdout


def test_streaming_example_scores_every_row_once_across_a_restart() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    run = subprocess.run(
        [sys.executable, str(REPO / "examples" / "streaming.py")], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "after the restart: 150 rows, each once, equal to ONNX Runtime's probabilities" in run.stdout, run.stdout


def test_wheel_and_jar_carry_the_apache_license() -> None:
    with zipfile.ZipFile(wheel()) as whl:
        metadata = email.message_from_bytes(whl.read(f"sparkort-{sparkort.__version__}.dist-info/METADATA"))
        licenses = [n for n in whl.namelist() if n.endswith("/LICENSE") and ".dist-info/" in n]
        jar = whl.read(f"sparkort/jars/sparkort-{sparkort.__version__}.jar")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert licenses, "the wheel carries the LICENSE file"
    with zipfile.ZipFile(io.BytesIO(jar)) as j:
        manifest = j.read("META-INF/MANIFEST.MF").decode()
        license_text = j.read("META-INF/LICENSE").decode()
    assert "Implementation-Title: sparkort" in manifest
    assert f"Implementation-Version: {sparkort.__version__}" in manifest
    assert "License: Apache-2.0" in manifest
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
