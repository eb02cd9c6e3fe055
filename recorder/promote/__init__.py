"""History entries into examples (Postman's "Mock Request"), and editing examples by hand."""
