"""A real IMAP server for tests: Debian's dovecot in the foreground, its own config, a loopback port."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER, PASSWORD = "support", "s3cret-imap"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    def __init__(self, tls: bool = False) -> None:
        self.binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.root = Path(tempfile.mkdtemp(prefix="mailgate-dovecot-"))
        self.root.chmod(0o755)  # dovecot drops privileges: its user must reach the maildir
        self.port = _free_port()
        self.tls_port = _free_port() if tls else 0
        ssl_settings = "ssl = no"
        if tls:  # a self-signed certificate for implicit TLS (IMAPS) on tls_port
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-subj", "/CN=localhost", "-keyout", str(self.root / "key.pem"),
                            "-out", str(self.root / "cert.pem")], check=True, capture_output=True)
            ssl_settings = f"ssl = yes\nssl_cert = <{self.root}/cert.pem\nssl_key = <{self.root}/key.pem"
        self.proc: subprocess.Popen[bytes] | None = None
        if os.getuid() == 0:
            user, group = "nobody", "nogroup"
        else:
            user = pwd.getpwuid(os.getuid()).pw_name
            group = user
        (self.root / "mail").mkdir()
        (self.root / "run").mkdir()
        if os.getuid() == 0:
            shutil.chown(self.root / "mail", user, group)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        self.config = self.root / "dovecot.conf"
        self.config.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/run
log_path = {self.root}/dovecot.log
{ssl_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{self.root}/mail/%u
mail_uid = {user}
mail_gid = {group}
first_valid_uid = 0
default_internal_user = {user}
default_login_user = {user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={self.root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
""")

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-F", "-c", str(self.config)], start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError("dovecot did not listen within 10 s")

    def stop(self) -> None:
        """Stop the server and every process it forked: open sessions are cut, as in a real restart
        (stopping only the master leaves the imap processes serving their connections)."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- a second, ordinary IMAP client standing in for the people who send mail
    def client(self) -> imaplib.IMAP4:
        c = imaplib.IMAP4("127.0.0.1", self.port)
        c.login(USER, PASSWORD)
        return c

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        c = self.client()
        try:
            typ, data = c.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            c.logout()

    def uids(self, folder: str = "INBOX", criteria: str = "ALL") -> list[int]:
        c = self.client()
        try:
            typ, _ = c.select(folder)
            assert typ == "OK", folder
            typ, data = c.uid("search", None, criteria)
            return [int(x) for x in data[0].split()] if data and data[0] else []
        finally:
            c.logout()

    def recreate(self, folder: str) -> None:
        """Delete and create a folder again: the server gives it a new UIDVALIDITY."""
        c = self.client()
        try:
            c.delete(folder)
            typ, data = c.create(folder)
            assert typ == "OK", data
        finally:
            c.logout()
