"""Reading saved sessions: the report's tables, the catalog of saved sessions, and the live state the screens show."""
