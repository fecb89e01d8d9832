"""Pure numeric engines of the analytics app (module list completed below)."""
