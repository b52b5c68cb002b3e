"""README's Python examples run as written."""

import re

from .conftest import REPO


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    readme = readme.split("## Classify 100M texts")[0]  # those recipes need Spark and Ray: test_distributed runs them
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "models" / "pets.model").exists()
