"""The status page: a read-only view of every account, alert and silence, as a document
(document.py, also what the MCP tools answer with), JSON, and an HTML page with charts."""
