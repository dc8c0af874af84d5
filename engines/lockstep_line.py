"""What lockstep's Python engines share: the external-engine protocol's loop and its
encodings (docs/external-engines.md), one JSON message per line on stdin and stdout.
"""

import json
import sys

PROTOCOL = 2

# The id of the request being served: its reply and every host call made meanwhile carry it.
serving = {"id": 0}

# The requests a session answers, by op, as the names of its methods.
SESSION_OPS = {
    "load": "load",
    "instantiate": "instantiate",
    "register": "register",
    "invoke": "invoke",
    "global": "global_",
    "state": "state",
}


def send(message):
    sys.stdout.write(json.dumps({"id": serving["id"], **message}) + "\n")
    sys.stdout.flush()


def ask_host(function, args):
    """Calls lockstep's host function `function` with `args` (wire values); its result values."""
    send({"host": {"function": function, "args": args}})
    return json.loads(sys.stdin.readline())["values"]


def as_list(returned, count):
    """A call's Python result as a list of `count` values."""
    if count == 0:
        return []
    if count == 1:
        return [returned]
    return list(returned)


def digest(data):
    """FNV-1a, 64-bit."""
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return str(value)


def check_protocol(request):
    """None, or the `unavailable` reply to a `hello` of another protocol version."""
    if request.get("protocol") != PROTOCOL:
        return {"unavailable": f"protocol {request.get('protocol')} is not {PROTOCOL}"}
    return None


def serve(hello, new_session, failure):
    """Answers requests until standard input closes: `hello(request)` and `new_session(limits)`
    (on `reset`) make those replies, the session's methods the others, and `failure(error)`
    turns an exception while serving a request into its outcome."""
    session = None
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        serving["id"] = request.get("id")
        op = request.get("op")
        try:
            if op == "hello":
                reply = hello(request)
            elif op == "reset":
                session = new_session(request.get("limits", {}))
                reply = {"values": []}
            elif op in SESSION_OPS:
                reply = getattr(session, SESSION_OPS[op])(request)
            else:
                reply = {"error": f"unknown op {op}"}
        except Exception as error:  # every failure of a request is reported as its outcome
            reply = failure(error)
        send(reply)
