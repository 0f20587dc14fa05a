"""An SMTP server for the e-mail digest tests (aiosmtpd from PyPI; installed by
scripts/smtp-sink.sh). Listens on a free loopback port, prints `listening PORT`, and
writes every message it accepts to DIR as NNNN.json: the envelope, the raw message,
its headers and its decoded text.

Usage: python sink.py DIR [USER PASSWORD]   (with USER and PASSWORD, AUTH is required)
       SINK_DELAY_SECS=N answers each message only after N seconds.
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        # A slow server keeps each sender waiting (holding what it holds) this long.
        await asyncio.sleep(float(os.environ.get("SINK_DELAY_SECS", "0")))
        self.count += 1
        path = os.path.join(self.out, f"{self.count:04d}.json")
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated_as": session.auth_data,
            # The message as sent, and as a mail client shows it (headers unfolded and
            # decoded, the text part decoded from its transfer encoding).
            "data": envelope.content.decode("utf-8", "replace"),
            "headers": [[name, str(value)] for name, value in message.items()],
            "text": body.get_content() if body is not None else "",
        }
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, auth_data=user if ok else None)

    return check


async def main():
    out = sys.argv[1]
    sink = Sink(out)
    if len(sys.argv) >= 4:
        check = authenticator(sys.argv[2], sys.argv[3])

        def factory():
            # Plain AUTH over a loopback connection: the tests have no certificate.
            return SMTP(sink, authenticator=check, auth_required=True, auth_require_tls=False)
    else:

        def factory():
            return SMTP(sink)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
