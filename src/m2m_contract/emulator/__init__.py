"""An Auth0 emulator for the Client Credentials grant: one core, in-process and HTTP doors."""

from ._admin import AdminAccess
from ._asgi import EmulatorApp
from ._clock import Clock, FakeClock, SystemClock
from ._config import (
    DEFAULT_AUDIENCE,
    DEFAULT_RATE_LIMIT,
    DEFAULT_SCOPES,
    SANDBOX_BASE_URL,
    SANDBOX_ISSUER,
    Api,
    Client,
    RateLimit,
    Tenant,
    TenantConfigError,
    default_tenant,
    load_tenant,
    tenant_from_mapping,
)
from ._core import Emulator
from ._faults import Fault, FaultError, FaultQueue
from ._http import Request, Response
from ._journal import Exchange, Journal
from ._keys import KeyFileError, KeySet, SigningKey
from ._limits import Limits
from ._server import EmulatorServer, ServerError
from ._tls import TLSFiles, make_tls_files
from ._tokens import InvalidToken, Verified
from ._transport import EmulatorTransport, respx_router

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_SCOPES",
    "SANDBOX_BASE_URL",
    "SANDBOX_ISSUER",
    "AdminAccess",
    "Api",
    "Client",
    "Clock",
    "Emulator",
    "EmulatorApp",
    "EmulatorServer",
    "EmulatorTransport",
    "Exchange",
    "FakeClock",
    "Fault",
    "FaultError",
    "FaultQueue",
    "InvalidToken",
    "Journal",
    "KeyFileError",
    "KeySet",
    "Limits",
    "RateLimit",
    "Request",
    "Response",
    "ServerError",
    "SigningKey",
    "SystemClock",
    "TLSFiles",
    "Tenant",
    "TenantConfigError",
    "Verified",
    "default_tenant",
    "load_tenant",
    "make_tls_files",
    "respx_router",
    "tenant_from_mapping",
]
