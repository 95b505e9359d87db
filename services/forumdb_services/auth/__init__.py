"""Who is calling: OIDC bearer tokens verified against the issuer's keys (tokens.py), the
settings that name the issuer (settings.py), and the rules the routes apply (wired in api/)."""
