"""The laboratory that makes the default model: procedural faces, the face prior, the generator
fit, the probes and the default model's directions.

Imports go one way: ``lab`` uses ``backend`` (the run time), never the reverse, and the Blender
extension does not ship ``lab``. ``scripts/`` drive it.
"""
