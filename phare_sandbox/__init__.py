"""A local imitation of the parts of Phare's REST API that the incident console uses."""

from .readings import Readings
from .server import RunningSandbox, start_in_thread
from .state import Fault, SandboxState, TokenInfo

__all__ = ["Fault", "Readings", "RunningSandbox", "SandboxState", "TokenInfo", "start_in_thread"]
