"""The pytest plugin (written later in this branch)."""
