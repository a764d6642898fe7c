"""Interoperability: a real third-party OAuth client library (Authlib) gets a
token from Tessera with private_key_jwt and with client_secret_jwt.

usage: authlib_private_key_jwt.py TOKEN_URL CA_FILE CLIENT_ID PRIVATE_KEY_PEM KID [MAC_CLIENT_ID MAC_SECRET]
Prints the token responses as JSON lines; exits non-zero on any failure.
"""

import json
import sys
import time

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT
from joserfc.jwk import ECKey


def fetch(session, token_url, ca_file):
    return session.fetch_token(token_url, grant_type="client_credentials", verify=ca_file)


def main():
    token_url, ca_file, client_id, key_file, kid = sys.argv[1:6]
    with open(key_file) as f:
        # Authlib takes an RSA PEM as is; other key types as joserfc keys.
        private_key = ECKey.import_key(f.read())
    session = OAuth2Session(client_id, private_key, token_endpoint_auth_method="private_key_jwt")
    # Authlib's assertions live an hour by default; Tessera caps them at the
    # tenant's assertion_max_lifetime_secs (5 minutes by default).
    session.register_client_auth_method(
        PrivateKeyJWT(token_url, alg="ES256", headers={"kid": kid}, claims={"exp": int(time.time()) + 60})
    )
    print(json.dumps(fetch(session, token_url, ca_file)))

    if len(sys.argv) > 7:
        mac_client, mac_secret = sys.argv[6:8]
        session = OAuth2Session(mac_client, mac_secret, token_endpoint_auth_method="client_secret_jwt")
        session.register_client_auth_method(ClientSecretJWT(token_url, claims={"exp": int(time.time()) + 60}))
        print(json.dumps(fetch(session, token_url, ca_file)))


if __name__ == "__main__":
    main()
