"""A real SMTP server for the tests: aiosmtpd with AUTH (one user), optional
STARTTLS, delivering each recipient's copy into <mailroot>/<local part>/Maildir
(the layout the dovecot harness serves) and logging one line per accepted mail.

usage: smtpd.py PORT MAILROOT USER PASSWORD [CERT KEY]
"""
import mailbox
import warnings
import os
import sys
import signal
import time

from aiosmtpd.controller import Controller

# aiosmtpd warns about its own deprecated Session.login_data on every AUTH.
warnings.filterwarnings("ignore", category=DeprecationWarning)
from aiosmtpd.smtp import AuthResult, LoginPassword

port, root, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cert = sys.argv[5] if len(sys.argv) > 6 else None
key = sys.argv[6] if len(sys.argv) > 6 else None


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    # handled=False: aiosmtpd then answers 535 itself (its default, True, answers nothing).
    return AuthResult(success=ok, handled=False)


class Deliver:
    # SASL XOAUTH2 (Google's profile): "user=U\x01auth=Bearer T\x01\x01", with
    # the password argument as the one valid token.
    async def auth_XOAUTH2(self, server, args):
        import base64

        # args is [mechanism, initial response?]
        blob = args[1] if len(args) > 1 else None
        if blob is None:
            raw = await server.challenge_auth("", encode_to_b64=False)
        else:
            try:
                raw = base64.b64decode(blob)
            except Exception:
                raw = b""
        fields = dict(
            f.split("=", 1) for f in raw.decode(errors="replace").split("\x01") if "=" in f
        )
        ok = fields.get("user") == user and fields.get("auth") == f"Bearer {password}"
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server, session, envelope):
        # Logged before the mail is delivered: a test that sees the mail in a
        # mailbox then counts accepted mails must find it counted.
        with open(os.path.join(root, "smtpd.log"), "a") as log:
            log.write(f"{time.time()} accepted from={envelope.mail_from} to={','.join(envelope.rcpt_tos)}\n")
        for rcpt in envelope.rcpt_tos:
            local = rcpt.split("@", 1)[0].lower()
            path = os.path.join(root, local, "Maildir")
            if not os.path.isdir(path):
                path = os.path.join(root, "_unknown", "Maildir")
                os.makedirs(os.path.dirname(path), exist_ok=True)
            box = mailbox.Maildir(path, create=True)
            name = box.add(envelope.original_content or envelope.content)
            owner = os.stat(os.path.join(root)).st_uid, os.stat(os.path.join(root)).st_gid
            for sub in ("new", "cur"):
                f = os.path.join(path, sub, name)
                if os.path.exists(f):
                    os.chmod(f, 0o644)
                    try:
                        os.chown(f, *owner)
                    except PermissionError:
                        pass
        return "250 OK"


kwargs = dict(
    hostname="127.0.0.1",
    port=port,
    authenticator=authenticator,
    auth_require_tls=cert is not None,
)
if cert:
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kwargs.update(tls_context=ctx, require_starttls=True)

controller = Controller(Deliver(), **kwargs)
controller.start()
print("ready", flush=True)
# signal.pause, not a long time.sleep: under libfaketime with only the wall
# clock faked (the CI's date-bomb pass), time.sleep(3600) fails with EINVAL.
try:
    while True:
        signal.pause()
except KeyboardInterrupt:
    controller.stop()
