"""The documented contract: exchange model, scope grammar and the catalogue of checks."""

# Importing the check modules registers the catalogue, in this order.
# isort: off
from . import _request_checks as _request_checks
from . import _bearer_checks as _bearer_checks
from . import _outcome_checks as _outcome_checks
from . import _hygiene_checks as _hygiene_checks

# isort: on
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
