"""Animation: channels, the directions file, the rig maths (values -> W+), emotion scripts, timelines."""
