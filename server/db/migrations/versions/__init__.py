"""One module per schema revision (a package, so the type checker reads them too)."""
