"""Event types, the session model, the journal and JSON load/save. Standard library only."""

from orintui.session.model import FORMAT, VERSION, RunInfo, Session
from orintui.session.store import SessionError, load_session, save_session

__all__ = ["FORMAT", "VERSION", "RunInfo", "Session", "SessionError", "load_session", "save_session"]
