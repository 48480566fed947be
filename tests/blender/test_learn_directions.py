"""Learn Directions: the chosen model's directions learned on the worker, written to a new file in the
user folder (never the extension's install folder, never over a file a face may use), made the
preference only when complete or when asked, and never changing the directions a face was made with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..test_generator_directions import FEATURES_PROBE
from .harness import script

LEARN = script("learn_directions_learn")


def test_learn_directions_writes_new_files_in_the_user_folder_and_never_changes_a_faces_directions(shared_blender, tmp_path):
    model = tmp_path / "mine.safetensors"
    shutil.copy(shared_blender.env["LE_TEST_MODEL"], model)
    out = shared_blender.run(LEARN, str(model), str(FEATURES_PROBE))
    said = out["_stdout"] + out["_stderr"]
    assert out["cancelled"] is not None and "cancelled" in out["cancelled"]
    assert out["first"][0] == ["FINISHED"], out["first"]
    folder = Path(out["folder"])
    assert folder.is_relative_to(out["user"]) and folder.name == "directions"  # not the install folder
    assert not (tmp_path / "mine.directions.json").exists()
    written = sorted(p.name for p in folder.glob("mine.directions*.json") if ".report." not in p.name)
    assert written == ["mine.directions-2.json", "mine.directions-3.json", "mine.directions.json"]  # none replaced
    assert out["missing"], "the tiny model's 64-sample run is expected to miss channels (the case of the issue)"
    assert out["after_first"] == ""  # incomplete: not made the preference without asking...
    assert "no direction learned for" in said and "NOT made the Directions preference" in said
    assert out["asked"][0] == ["FINISHED"] and out["after_asked"] == str(folder / "mine.directions-2.json")
    assert out["now"] == out["made_with"] and out["same_frame"]  # ...and the face kept its own directions
    assert out["samples"] == 128 and out["made"] == 64  # the first run's 64 samples were reused
    assert json.loads((folder / "mine.directions-3.report.json").read_text())["channels"]
    assert out["bad_reader"][0] is None and "'faces' or 'probe:PATH'" in out["bad_reader"][1]
    assert any(name.startswith("samples-") for name in out["work"])  # the work folder is the user folder's
