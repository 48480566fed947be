"""Reading faces: real-face nets, our probes, performance capture and its smoothing."""
