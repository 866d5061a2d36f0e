"""check-home-assistant's side that speaks to Home Assistant: its REST and WebSocket APIs.

Run with the project's venv Python (httpx and websockets are there):

    python drive.py wait --url URL --timeout 300
    python drive.py onboard --url URL --token-file PATH
    python drive.py adopt --url URL --token-file PATH --host 127.0.0.1 --port N --key KEY
    python drive.py entities --url URL --token-file PATH --name talkbox
    python drive.py service --url URL --token-file PATH DOMAIN SERVICE ENTITY_ID [--data JSON]
    python drive.py state --url URL --token-file PATH ENTITY_ID EXPECTED --timeout S
    python drive.py event --url URL --token-file PATH ENTITY_ID EVENT_TYPE --timeout S
    python drive.py entries --url URL --token-file PATH DOMAIN COUNT
    python drive.py find --url URL --token-file PATH DOMAIN WORD

The owner is made through HA's onboarding API (the same calls the frontend makes on a fresh
install), its authorization code traded for an access token at /auth/token, and a long-lived
token asked of the WebSocket API (`auth/long_lived_access_token`), which is what a person
pastes into TALKBOX_HOME_ASSISTANT_TOKEN. The box is adopted through the ESPHome integration's
config flow, step by step as the frontend's dialog sends it. Each command prints what it saw
and exits 0; a check that fails exits 1 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

CLIENT_NAME = "talkbox check-home-assistant"


class CheckFailed(Exception):
    """A check did not hold; the message says what was seen."""


def out(line: str) -> None:
    """One line to stdout (what the calling script shows)."""
    sys.stdout.write(line + "\n")


def client(url: str, token: str | None = None) -> httpx.Client:
    """An HTTP client on HA, with the bearer token when there is one."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=60.0)


def expect(response: httpx.Response, what: str) -> Any:
    """The JSON of a 2xx answer; CheckFailed naming `what` otherwise."""
    if not response.is_success:
        raise CheckFailed(f"{what}: HTTP {response.status_code} {response.text[:400]}")
    return response.json()


def wait(url: str, timeout: float) -> None:
    """Wait until HA answers its onboarding status (served without authentication)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with client(url) as http:
                answer = http.get("/api/onboarding")
            if answer.status_code == 200:
                out(f"HA answers: onboarding steps {answer.json()}")
                return
            last = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(1.0)
    raise CheckFailed(f"HA did not answer within {timeout:.0f} s ({last})")


async def long_lived_token(url: str, access_token: str) -> str:
    """Ask the WebSocket API for a long-lived token, authenticated by a short-lived one."""
    ws_url = url.replace("http://", "ws://", 1) + "/api/websocket"
    async with websockets.connect(ws_url) as ws:
        hello = json.loads(await ws.recv())
        if hello.get("type") != "auth_required":
            raise CheckFailed(f"websocket: expected auth_required, got {hello}")
        await ws.send(json.dumps({"type": "auth", "access_token": access_token}))
        auth = json.loads(await ws.recv())
        if auth.get("type") != "auth_ok":
            raise CheckFailed(f"websocket: authentication refused: {auth}")
        await ws.send(
            json.dumps(
                {
                    "id": 1,
                    "type": "auth/long_lived_access_token",
                    "client_name": CLIENT_NAME,
                    "lifespan": 1,
                }
            )
        )
        result = json.loads(await ws.recv())
        if not result.get("success"):
            raise CheckFailed(f"websocket: no long-lived token: {result}")
        return str(result["result"])


def onboard(url: str, token_file: Path) -> None:
    """Make the owner, log in, and write a long-lived token to `token_file` (mode 0600)."""
    client_id = url + "/"
    with client(url) as http:
        user = expect(
            http.post(
                "/api/onboarding/users",
                json={
                    "client_id": client_id,
                    "name": "Check",
                    "username": "check",
                    "password": secrets.token_urlsafe(16),
                    "language": "en",
                },
            ),
            "onboarding the owner",
        )
        tokens = expect(
            http.post(
                "/auth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": user["auth_code"],
                    "client_id": client_id,
                },
            ),
            "trading the authorization code",
        )
        # The owner is all the check needs; the later steps (core_config sets up the weather
        # integration, which would go to the internet) stay undone.
        access = str(tokens["access_token"])
    token = asyncio.run(long_lived_token(url, access))
    token_file.write_text(token, encoding="utf-8")
    os.chmod(token_file, 0o600)
    out(f"owner 'check' made; long-lived token written to {token_file} ({len(token)} chars)")


def adopt(url: str, token: str, host: str, port: int, key: str) -> None:
    """Walk the ESPHome config flow as the frontend does: host and port, then the key."""
    with client(url, token) as http:
        step = expect(
            http.post(
                "/api/config/config_entries/flow",
                json={"handler": "esphome", "show_advanced_options": False},
            ),
            "starting the esphome flow",
        )
        seen: list[str] = []
        for _ in range(8):
            kind = step.get("type")
            step_id = step.get("step_id", "")
            seen.append(f"{kind}:{step_id}")
            if kind == "create_entry":
                entry = step.get("result") or {}
                title = step.get("title") or entry.get("title")
                out(f"flow {' -> '.join(seen)}; entry {title!r} ({entry.get('entry_id')})")
                return
            if kind != "form":
                raise CheckFailed(f"flow ended {' -> '.join(seen)}: {json.dumps(step)[:600]}")
            if step.get("errors"):
                raise CheckFailed(f"flow step {step_id} errors {step['errors']}")
            answer: dict[str, object]
            if step_id == "user":
                answer = {"host": host, "port": port}
            elif step_id == "encryption_key":
                answer = {"noise_psk": key}
            else:
                raise CheckFailed(f"flow asked an unknown step {step_id}: {json.dumps(step)[:600]}")
            step = expect(
                http.post(f"/api/config/config_entries/flow/{step['flow_id']}", json=answer),
                f"answering the flow's {step_id} step",
            )
        raise CheckFailed(f"flow did not end: {' -> '.join(seen)}")


def entities(url: str, token: str, name: str, timeout: float) -> None:
    """Wait until HA has the box's entities with states; print them; fail when some are missing."""
    wanted = {
        "switch": "mute",
        "number": "volume",
        "button": "talk",
        "media_player": "",
        "select": "wake_word",
    }
    deadline = time.monotonic() + timeout
    found: dict[str, str] = {}
    with client(url, token) as http:
        while time.monotonic() < deadline:
            states = expect(http.get("/api/states"), "listing states")
            found = {
                s["entity_id"]: s["state"]
                for s in states
                if s["entity_id"].split(".", 1)[1].startswith(f"{name}_")
                or s["entity_id"].split(".", 1)[1] == name
            }
            missing = [
                f"{domain} {word}".strip()
                for domain, word in wanted.items()
                if not any(e.startswith(f"{domain}.") and word in e for e in found)
            ]
            if not missing and all(v != "unavailable" for v in found.values()):
                break
            time.sleep(1.0)
        else:
            raise CheckFailed(f"entities missing or unavailable: {missing}; HA has {found}")
    for entity_id, state in sorted(found.items()):
        out(f"  {entity_id} = {state}")
    out(f"{len(found)} entities of the box")


def service(url: str, token: str, domain: str, name: str, entity_id: str, data: str) -> None:
    """Call a service on one entity, with more service data as a JSON object."""
    body = {"entity_id": entity_id, **json.loads(data or "{}")}
    with client(url, token) as http:
        expect(http.post(f"/api/services/{domain}/{name}", json=body), f"{domain}.{name} {body}")
    out(f"called {domain}.{name} {body}")


def event(url: str, token: str, entity_id: str, event_type: str, timeout: float) -> None:
    """Wait until an event entity has fired `event_type` (its state is then the time it fired)."""
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    with client(url, token) as http:
        while time.monotonic() < deadline:
            seen = expect(http.get(f"/api/states/{entity_id}"), entity_id)
            if seen["state"] not in ("unknown", "unavailable") and (
                seen.get("attributes", {}).get("event_type") == event_type
            ):
                out(f"{entity_id} fired {event_type} at {seen['state']}")
                return
            time.sleep(0.5)
    raise CheckFailed(f"{entity_id} did not fire {event_type}: {seen}")


def entries(url: str, token: str, domain: str, count: int) -> None:
    """Check HA holds `count` config entries of `domain`, all loaded."""
    with client(url, token) as http:
        found = expect(
            http.get("/api/config/config_entries/entry", params={"domain": domain}),
            f"{domain} entries",
        )
    described = [f"{e.get('title')} ({e.get('state')})" for e in found]
    if len(found) != count or any(e.get("state") != "loaded" for e in found):
        raise CheckFailed(f"{count} loaded {domain} entries wanted, HA has {described}")
    out(f"{domain} entries: {', '.join(described)}")


def state(url: str, token: str, entity_id: str, wanted: str, timeout: float) -> None:
    """Wait until an entity's state is `wanted`."""
    deadline = time.monotonic() + timeout
    seen = "?"
    with client(url, token) as http:
        while time.monotonic() < deadline:
            seen = str(expect(http.get(f"/api/states/{entity_id}"), entity_id)["state"])
            if seen == wanted:
                out(f"{entity_id} is {seen}")
                return
            time.sleep(0.5)
    raise CheckFailed(f"{entity_id} is {seen}, not {wanted}, after {timeout:.0f} s")


def find(url: str, token: str, domain: str, word: str, name: str) -> None:
    """Print the id of the box's entity of `domain` whose id holds `word`."""
    with client(url, token) as http:
        states = expect(http.get("/api/states"), "listing states")
    for s in states:
        entity_id = str(s["entity_id"])
        if entity_id.startswith(f"{domain}.{name}_") and word in entity_id:
            out(entity_id)
            return
    raise CheckFailed(f"no {domain} entity of {name} with {word!r}")


def main(argv: list[str]) -> int:
    """Parse the command line, run one command."""
    parser = argparse.ArgumentParser(prog="drive.py")
    parser.add_argument("command")
    parser.add_argument("args", nargs="*")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token-file", type=Path)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6053)
    parser.add_argument("--key", default="")
    parser.add_argument("--name", default="talkbox")
    parser.add_argument("--data", default="", help="service data (a JSON object)")
    opts = parser.parse_intermixed_args(argv)
    token = ""
    if opts.command not in ("wait", "onboard"):
        token = opts.token_file.read_text(encoding="utf-8").strip()
    try:
        if opts.command == "wait":
            wait(opts.url, opts.timeout)
        elif opts.command == "onboard":
            onboard(opts.url, opts.token_file)
        elif opts.command == "adopt":
            adopt(opts.url, token, opts.host, opts.port, opts.key)
        elif opts.command == "entities":
            entities(opts.url, token, opts.name, opts.timeout)
        elif opts.command == "service":
            service(opts.url, token, opts.args[0], opts.args[1], opts.args[2], opts.data)
        elif opts.command == "state":
            state(opts.url, token, opts.args[0], opts.args[1], opts.timeout)
        elif opts.command == "event":
            event(opts.url, token, opts.args[0], opts.args[1], opts.timeout)
        elif opts.command == "entries":
            entries(opts.url, token, opts.args[0], int(opts.args[1]))
        elif opts.command == "find":
            find(opts.url, token, opts.args[0], opts.args[1], opts.name)
        else:
            parser.error(f"unknown command {opts.command}")
    except CheckFailed as exc:
        sys.stderr.write(f"drive.py {opts.command}: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
