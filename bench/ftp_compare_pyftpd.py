#!/usr/bin/python3
"""ftp_compare_pyftpd.py — the pyftpdlib anchor of bench/ftp_compare.

  ftp_compare_pyftpd.py PORT ROOT USER CRYPT_HASH

Serves ROOT on 127.0.0.1:PORT with pyftpdlib's default (asynchronous, one
process) FTPServer: USER may do everything, checked against a crypt(3) hash
(yescrypt, as every server in the comparison), anonymous may read. Logging
stays at warnings, as for the other servers.
"""
import logging
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt's crypt(3): the same yescrypt as the others

from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


class CryptAuthorizer(DummyAuthorizer):
    """The users' passwords are crypt(3) hashes instead of plain text."""

    def validate_authentication(self, username, password, handler):
        if username == "anonymous":
            return
        try:
            h = self.user_table[username]["pwd"]
        except KeyError:
            raise AuthenticationFailed("no such user") from None
        if crypt.crypt(password, h) != h:
            raise AuthenticationFailed("wrong password")


def main():
    port, root, user, hashed = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    logging.basicConfig(level=logging.WARNING)
    auth = CryptAuthorizer()
    auth.add_user(user, hashed, root, perm="elradfmwMT")
    auth.add_anonymous(root)
    handler = FTPHandler
    handler.authorizer = auth
    handler.use_sendfile = True
    server = FTPServer(("127.0.0.1", port), handler, backlog=1024)
    server.max_cons = 0
    server.max_cons_per_ip = 0
    server.serve_forever()


if __name__ == "__main__":
    main()
