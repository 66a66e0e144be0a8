"""The lazy resource tree: Qt-free nodes, the item model and its view."""
