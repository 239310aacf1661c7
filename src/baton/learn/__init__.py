"""Learning from incident logs: fold audit rows into cases and route new cases to groups."""
