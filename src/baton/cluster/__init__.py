"""More than one process: leadership with fencing, the bus, sequencers, workers, cells."""
