"""The documented contract: exchange model, scope grammar and the catalogue of checks."""

from . import _checks as _checks  # registers the catalogue
from ._catalogue import CATALOGUE, PROFILES, Check, Profile, Result, Severity, Status, status_of
from ._model import ApiCall, Observation, OtherCall, Outcome, Settings, TokenCall, observe
from ._scope import is_valid_scope, scope_problem, scope_tokens

__all__ = [
    "CATALOGUE",
    "PROFILES",
    "ApiCall",
    "Check",
    "Observation",
    "OtherCall",
    "Outcome",
    "Profile",
    "Result",
    "Settings",
    "Severity",
    "Status",
    "TokenCall",
    "is_valid_scope",
    "observe",
    "scope_problem",
    "scope_tokens",
    "status_of",
]
