import sys

from .model.allocator import keep_freed_memory
from .model.threads import prepare_openmp

prepare_openmp()  # before anything imports torch
keep_freed_memory()

from .cli import main  # noqa: E402

sys.exit(main())
