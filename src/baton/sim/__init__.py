"""Running the engine against a simulated world: the demo, replay and reports."""
