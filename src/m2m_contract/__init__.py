"""m2m-contract: contract tests, an Auth0 emulator and a reference client for OAuth 2.0
Client Credentials."""

__version__ = "0.1.0"
