"""Session set-up for the Blender tests: the extension built and installed once, a tiny rig."""

from __future__ import annotations

import importlib.util

import pytest

from backend.animation.channels import CHANNEL_NAMES
from backend.animation.directions import save_directions
from backend.model.checkpoints import save_generator
from backend.model.generator import Generator
from lab.rigs import random_directions

from ..conftest import randomize_, tiny_config
from .harness import ROOT, Blender, Session, SharedBlender, install

EXTRA_CHANNEL = "brow_raise"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/blender/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.blender)


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_extension", ROOT / "scripts" / "build_extension.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("extension")
    return _load_builder().build(tmp / "dist", staging=tmp / "stage", with_model=False)


@pytest.fixture(scope="session")
def rig_files(tmp_path_factory):
    """A 32×32 generator and random directions for the nine channels plus one extra channel."""
    tmp = tmp_path_factory.mktemp("rig")
    G = randomize_(Generator(tiny_config()), seed=1).eval()
    model = save_generator(G, tmp / "generator.safetensors")
    directions = save_directions(random_directions(G, (*CHANNEL_NAMES, EXTRA_CHANNEL)), tmp / "directions.json")
    return {"LE_TEST_MODEL": str(model), "LE_TEST_DIRECTIONS": str(directions)}


@pytest.fixture(scope="session")
def installed(tmp_path_factory, extension_zip, rig_files):
    """A Blender user setup with the extension installed (and the install's report)."""
    home = tmp_path_factory.mktemp("home")
    blender = Blender(home, {**rig_files, "LE_TEST_CACHE": str(home / "le-cache")})
    blender.install_report = install(blender, extension_zip)
    return blender


@pytest.fixture
def blender(installed, tmp_path):
    """The installed setup with a cache of this test's own."""
    return Blender(installed.home, {**installed.extra_env, "LE_TEST_CACHE": str(tmp_path / "cache")})


@pytest.fixture(scope="session")
def session(installed):
    """This test worker's shared Blender process (``harness.Session``)."""
    shared = Session(installed)
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def shared_installed(installed, session):
    """``installed`` (its cache, its user setup), its scripts run in the worker's shared Blender process."""
    return SharedBlender(installed.home, installed.extra_env, session=session)


@pytest.fixture
def shared_blender(installed, session, tmp_path):
    """As ``blender``, but its scripts run in the worker's shared Blender process, each after a factory
    reset: for tests that need no fresh process (``harness.SharedBlender``)."""
    return SharedBlender(installed.home, {**installed.extra_env, "LE_TEST_CACHE": str(tmp_path / "cache")},
                         session=session)
