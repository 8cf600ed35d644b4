"""One module per CLI command. Each imports only the standard library at module level."""
