"""Garbage collection: Distribution's offline mark-and-sweep (``dockyard garbage-collect``)."""
