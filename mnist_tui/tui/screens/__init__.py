"""The five screens (one per app mode) and the modals."""
