"""Where the add-on's files are (no bpy here): in the built extension, or in the repository.

The built extension holds ``backend/`` and ``models/default/`` beside the add-on modules. Loaded
straight from the repository (a developer install, see README.md), the add-on is the repository's
``blender_addon/`` folder and finds both one level up: ``use_source_backend`` makes the repository's
``backend/`` importable as this package's ``backend`` subpackage, the name the modules import.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The repository root when the add-on runs from the source tree, else None.
SOURCE_ROOT: Path | None = (HERE.parent if not (HERE / "backend").is_dir()
                            and (HERE.parent / "backend" / "__init__.py").is_file() else None)
MODEL_DIR = (SOURCE_ROOT or HERE) / "models" / "default"


def use_source_backend(package: str) -> None:
    """From the source tree: import the repository's ``backend/`` as ``<package>.backend`` (once)."""
    name = f"{package}.backend"
    if SOURCE_ROOT is None or name in sys.modules:
        return
    init = SOURCE_ROOT / "backend" / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
