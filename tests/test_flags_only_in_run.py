"""Only the entry point (mtl_keras/run.py) may read absl flags; the library, and the other
`python -m` modules, take a Config or plain values."""

import ast
import pathlib

import mtl_keras

PACKAGE = pathlib.Path(mtl_keras.__file__).resolve().parent
ENTRY_POINTS = ("run.py",)


def _flag_uses(path):
    """Returns descriptions of every use of absl flags / FLAGS in one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "FLAGS":
            uses.append(f"line {node.lineno}: name FLAGS")
        elif isinstance(node, ast.Attribute) and node.attr == "FLAGS":
            uses.append(f"line {node.lineno}: attribute .FLAGS")
        elif isinstance(node, ast.ImportFrom) and node.module == "absl" and any(
                alias.name == "flags" for alias in node.names):
            uses.append(f"line {node.lineno}: from absl import flags")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("absl.flags"):
            uses.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import) and any(alias.name.startswith("absl.flags")
                                                   for alias in node.names):
            uses.append(f"line {node.lineno}: import absl.flags")
    return uses


def test_the_scanner_sees_run_py():
    uses = _flag_uses(PACKAGE / "run.py")
    assert any("from absl import flags" in use for use in uses)
    assert any("FLAGS" in use for use in uses)


def test_no_module_but_run_reads_flags():
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 15  # the whole package was scanned
    offenders = {str(path.relative_to(PACKAGE)): uses for path in sources
                 if path.name not in ENTRY_POINTS or path.parent != PACKAGE
                 for uses in [_flag_uses(path)] if uses}
    assert offenders == {}
    # A textual check too, for uses the syntax walk could miss (e.g. getattr(flags, "FLAGS")).
    textual = [str(path.relative_to(PACKAGE)) for path in sources
               if path.parent / path.name not in [PACKAGE / name for name in ENTRY_POINTS]
               and "FLAGS" in path.read_text(encoding="utf-8")]
    assert textual == []
