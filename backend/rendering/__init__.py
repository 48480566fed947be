"""Rendering: the frame cache, timelines to frames, video files in and out, sample sheets."""
