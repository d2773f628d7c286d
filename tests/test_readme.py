"""The README's quickstart runs as written, and .ci/run runs exactly the README's test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_python_blocks_run():
    """Every python block of the README (quickstart, deep learning) runs as written."""
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 2, "README lost a python block"
    for number, block in enumerate(blocks):
        exec(compile(block, f"README python block {number + 1}", "exec"), {})


def test_ci_runs_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    test_command = next(c.strip() for c in commands if "pytest" in c and "[test]" in c)
    ci_lines = [l for l in (ROOT / ".ci/run").read_text().splitlines() if l and not l.startswith(("#", "set ", "cd "))]
    assert ci_lines == [test_command]


def test_scikit_learn_page_runs():
    """The code of docs/sklearn.rst (pipelines, grid search, aeon's loaders, Dask) runs as written, in order."""
    page = (ROOT / "docs" / "sklearn.rst").read_text()
    blocks = re.findall(r"\.\. code-block:: python\n\n(.*?)(?=\n\S|\Z)", page, flags=re.S)
    assert len(blocks) == 3, "the page lost a code block"
    namespace = {}
    for number, block in enumerate(blocks):
        code = "\n".join(line[4:] for line in block.splitlines())
        exec(compile(code, f"docs/sklearn.rst block {number + 1}", "exec"), namespace)
