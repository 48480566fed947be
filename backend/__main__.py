import sys

from .model.threads import prepare_openmp

prepare_openmp()  # before anything imports torch

from .cli import main  # noqa: E402

sys.exit(main())
