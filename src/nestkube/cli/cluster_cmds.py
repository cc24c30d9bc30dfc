"""Commands of this group are attached to nestkube.cli.groups."""
