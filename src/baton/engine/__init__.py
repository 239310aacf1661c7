"""The pipeline: monitor, decide, coordinate, and the clock they all read."""
