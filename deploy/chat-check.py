#!/usr/bin/env python3
"""Scripted client for deploy/local-cluster.sh: two people chat through the load
balancer while connected to *different* nodes, and each sees the other's message.

Usage: chat-check.py http://127.0.0.1:8090   (needs python3-websockets)
The cluster has no dev login (each node would sign with its own random secret), so
local-cluster.sh mints the two tokens with `mentorhub token` and passes them in
MENTOR_TOKEN / MENTEE_TOKEN with the accounts in MENTOR_ACCOUNT / MENTEE_ACCOUNT.
Exits 0 on success, 1 with a reason otherwise.
"""
import asyncio
import json
import os
import sys
import time
import urllib.request

import websockets


def call(base, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


async def connect_on(ws_url, token, node, tries=40):
    """Opens sockets through the balancer until one lands on `node`."""
    for _ in range(tries):
        socket = await websockets.connect(ws_url, max_size=1 << 20)
        await socket.send(json.dumps({"type": "hello", "token": token}))
        welcome = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if welcome.get("type") != "welcome":
            raise SystemExit(f"expected welcome, got {welcome}")
        if welcome["node"] == node:
            return socket
        await socket.close()
    raise SystemExit(f"the balancer never sent a connection to {node}")


async def expect_message(socket, conversation, body, limit=10):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        frame = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        if frame.get("type") == "message" and frame.get("conversation") == conversation \
                and frame.get("body") == body:
            return frame
    raise SystemExit(f"message {body!r} did not arrive")


async def main(base):
    ws_url = base.replace("http", "ws", 1) + "/ws"
    mentor = {"token": os.environ["MENTOR_TOKEN"], "account": os.environ["MENTOR_ACCOUNT"]}
    mentee = {"token": os.environ["MENTEE_TOKEN"], "account": os.environ["MENTEE_ACCOUNT"]}
    call(base, "GET", "/api/me", mentor["token"])  # the mentor becomes known
    created = call(base, "POST", "/api/relationships", mentee["token"],
                   {"mentor": mentor["account"], "introduction": "Hello from the script"})
    relationship = created["relationship"]
    call(base, "POST", f"/api/relationships/{relationship['id']}/accept", mentor["token"])
    conversation = relationship["conversation"]

    mentee_ws = await connect_on(ws_url, mentee["token"], "node-a")
    mentor_ws = await connect_on(ws_url, mentor["token"], "node-b")
    await mentee_ws.send(json.dumps({"type": "send", "conversation": conversation,
                                     "client_id": "c1", "body": "question from node-a"}))
    await expect_message(mentor_ws, conversation, "question from node-a")
    await mentor_ws.send(json.dumps({"type": "send", "conversation": conversation,
                                     "client_id": "c2", "body": "answer from node-b"}))
    await expect_message(mentee_ws, conversation, "answer from node-b")
    await mentee_ws.close()
    await mentor_ws.close()
    print("chat across nodes: ok (mentee on node-a, mentor on node-b, through nginx)")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8090"))
