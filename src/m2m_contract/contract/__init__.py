"""The documented contract: the exchange model, scope grammar, tolerances, and the one catalogue
of checks for the client contract (conformance) and the server contract (live)."""

# Importing the check modules registers the catalogue, in this order.
# isort: off
from . import _request_checks as _request_checks
from . import _bearer_checks as _bearer_checks
from . import _outcome_checks as _outcome_checks
from . import _fault_checks as _fault_checks
from . import _hygiene_checks as _hygiene_checks
from . import _live_checks as _live_checks
from . import _live_token_checks as _live_token_checks

# isort: on
from .._protocol import ProtocolError, ProtocolSettings
from ._catalogue import (
    CATALOGUE,
    PROFILES,
    SUITES,
    Check,
    Profile,
    Result,
    Severity,
    Status,
    Suite,
    checks_of,
)
from ._live_model import (
    Answer,
    BadRecording,
    Keys,
    LiveFacts,
    LiveOutcome,
    Target,
    Verdict,
    token_digest,
)
from ._model import (
    ApiCall,
    ForeignCall,
    Observation,
    OtherCall,
    Outcome,
    TokenCall,
    known_values,
    observe,
)
from ._rules import (
    EXPIRY_TOLERANCE,
    FAILURE_SCENARIOS,
    MIN_BACKOFF,
    RETRY_AFTER_TOLERANCE,
    STALL_BUDGET,
    SUCCESS_SCENARIOS,
)
from ._scope import is_valid_scope, scope_problem, scope_tokens

__all__ = [
    "CATALOGUE",
    "EXPIRY_TOLERANCE",
    "FAILURE_SCENARIOS",
    "MIN_BACKOFF",
    "PROFILES",
    "RETRY_AFTER_TOLERANCE",
    "STALL_BUDGET",
    "SUCCESS_SCENARIOS",
    "SUITES",
    "Answer",
    "ApiCall",
    "BadRecording",
    "Check",
    "ForeignCall",
    "Keys",
    "LiveFacts",
    "LiveOutcome",
    "Observation",
    "OtherCall",
    "Outcome",
    "Profile",
    "ProtocolError",
    "ProtocolSettings",
    "Result",
    "Severity",
    "Status",
    "Suite",
    "Target",
    "TokenCall",
    "Verdict",
    "checks_of",
    "is_valid_scope",
    "known_values",
    "observe",
    "scope_problem",
    "scope_tokens",
    "token_digest",
]
