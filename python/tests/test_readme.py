"""The README's Python example (the old store's usage, only its import line
changed) runs as written in a fresh directory, in a real Python process, and
prints what its comments say."""

import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def python_section_example():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Python\n") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Python section has a python example"
    return match.group(1)


def test_readme_old_store_example_runs_as_written(tmp_path):
    code = python_section_example()
    assert code.startswith("from recstore import Store as RecursiveDataStore\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    expected = [m.group(1) for m in re.finditer(r"^print\(.*\)\s+# (.*)$", code, re.M)]
    assert expected, "the example says what it prints"
    for line in expected:
        assert line in printed, (line, printed)
    assert any(line.endswith(" 22.0") for line in printed), "the query loop printed the reading"
    assert (tmp_path / "recstore-data").is_dir()
