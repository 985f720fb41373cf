"""The README's walk-through for mailers works when followed in order after `flask --app app demo`: each curl
command of the section is sent as it is written, and each answer shown in a `# {...}` comment is what comes back."""

from __future__ import annotations

import json
import os
import re
import shlex

from conftest import ApiClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = "http://127.0.0.1:5000"


def section(title: str) -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as readme:
        text = readme.read()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def shell_steps(markdown: str) -> list[tuple[list[str], str]]:
    """Each curl command of the ```sh blocks (continuation lines joined) with the answer commented after it."""
    steps: list[tuple[list[str], str]] = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, re.S):
        command = ""
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("curl "):
                command = line
                steps.append((shlex.split(command), ""))
            elif line.startswith("# {") or (line.startswith("#  ") and steps and steps[-1][1]):
                steps[-1] = (steps[-1][0], steps[-1][1] + line[1:])
    return steps


def send(api: ApiClient, argv: list[str]):
    method, body, url = "GET", None, None
    for position, word in enumerate(argv):
        if word == "-X":
            method = argv[position + 1]
        elif word == "-d":
            body = json.loads(argv[position + 1])
        elif word.startswith(SERVER):
            url = word.removeprefix(SERVER)
    assert url is not None and url.startswith("/api/v1"), argv
    return api.call(method, url.removeprefix("/api/v1"), body)


def matches(shown, answer) -> bool:
    """Equal, where a string shown with "…" stands for any string that starts the same."""
    if isinstance(shown, dict):
        return isinstance(answer, dict) and shown.keys() <= answer.keys() and all(matches(v, answer[k]) for k, v in shown.items())
    if isinstance(shown, str) and "…" in shown:
        return isinstance(answer, str) and answer.startswith(shown.split("…")[0])
    return shown == answer


def test_the_walk_through_for_mailers_works_after_the_demo(runner, client):
    demo = runner.invoke(args=["demo"])
    assert demo.exit_code == 0, demo.output
    created = runner.invoke(args=["keys", "create", "my-mailer", "--scope", "check", "--scope", "write"])
    api = ApiClient(client, created.output.strip().splitlines()[-1])
    steps = shell_steps(section("For mailers: asking before a send"))
    assert len(steps) >= 8  # put, check, batch, links, patch, events, export, delete
    for argv, shown in steps:
        response = send(api, argv)
        assert response.status_code < 400, (argv, response.status_code, response.get_data(as_text=True))
        if shown:
            assert matches(json.loads(shown), response.get_json()), (shown, response.get_json())
