"""Run a tests/tools script under the test-tools venv when the current python lacks its modules.

Used by the scripts beside this file, before their third-party imports:

    import _venv
    _venv.require("pyhanko", "pypdf")

The venv is made by scripts/install-test-tools.sh at
${ZHENGYIN_TEST_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/zhengyin-test-tools}/venv.
"""
import importlib.util
import os
import sys
import warnings

MISSING_TOOLS_EXIT = 4


def venv_dir():
    tools = os.environ.get("ZHENGYIN_TEST_TOOLS") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "zhengyin-test-tools")
    return os.path.join(tools, "venv")


def require(*modules):
    """Return if all `modules` import; else re-exec this script with the venv's python."""
    if all(importlib.util.find_spec(m) is not None for m in modules):
        # pyHanko 0.38 imports DSA names that cryptography >= 47 warns about on every run
        warnings.filterwarnings("ignore", message="DSA is deprecated")
        return
    venv = venv_dir()
    python = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) != os.path.realpath(venv) and os.access(python, os.X_OK):
        os.execv(python, [python, os.path.abspath(sys.argv[0])] + sys.argv[1:])
    sys.stderr.write(f"{sys.argv[0]}: needs {', '.join(modules)}: "
                     f"run scripts/install-test-tools.sh (venv {venv})\n")
    sys.exit(MISSING_TOOLS_EXIT)
