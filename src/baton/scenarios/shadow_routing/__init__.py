"""Shadow routing: decide each case's group when it opens, never act, compare with people."""
