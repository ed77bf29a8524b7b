"""Consultations the web tests run: answers taken from the example profiles, and the terminal
interview run on the same answers for comparison."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from haircare_expert.yamlio import load_file

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "facts" / "examples"

#: The three consultations the browser runs: serum misuse, oily scalp with build-up, a red flag.
SCENARIOS = ("serum-misuse", "oily-buildup", "red-flags")


def answers_of(example: str) -> tuple[dict, dict]:
    """(client details, answers by question key) from an example profile."""
    profile = load_file(EXAMPLES / f"{example}.yaml", ValueError)
    client = {k: str(v) for k, v in dict(profile.get("client") or {}).items()}
    answers: dict = {}
    for section, value in profile.items():
        if section == "client":
            continue
        if section == "routine":
            answers["routine"] = [entry["product"] for entry in value]
            for index, entry in enumerate(value):
                for field, item in entry.items():
                    if field != "product":
                        answers[f"routine[{index}].{field}"] = item
        elif isinstance(value, dict):
            for field, item in value.items():
                answers[f"{section}.{field}"] = item
        else:
            answers[section] = value
    return client, answers


def form_values(value) -> list[str]:
    """An answer as the values a question form sends (one per ticked box)."""
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value] or ["none"]
    return [str(value)]


def typed(values: list[str]) -> str:
    """The same answer as typed at the terminal."""
    return ",".join(values)


def terminal_json(client: dict, typed_answers: list[str], tmp_path: Path) -> dict:
    """The JSON record ``haircare interview`` writes for the same answers, typed in order."""
    from haircare_expert import cli
    out = tmp_path / "terminal.json"
    lines = [client.get("name", ""), *typed_answers]
    result = CliRunner().invoke(cli.main, [
        "interview", "--db", f"sqlite:///{tmp_path / 'terminal.db'}", "--date", client["date"],
        "--consultant", client["consultant"], "-o", str(out)], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text(encoding="utf-8"))
