"""The native routes, one module per noun; the submit routes come from the operation registry."""
