"""How the service runs: settings, logging, the Temporal connection and the embedded dev server."""
