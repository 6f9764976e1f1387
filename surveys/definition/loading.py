"""Definitions as text: YAML or JSON in (parsed and validated), YAML or JSON out (ready to edit
and import again)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from surveys.definition.schema import DefinitionError, validate_definition

def parse_definition_text(text: str) -> Any:
    """YAML or JSON (JSON is YAML) into data; a syntax error says on which line."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
        raise DefinitionError([f"{where}: {exc.problem or 'this is not valid YAML or JSON'}"]) from exc
    except yaml.YAMLError as exc:
        raise DefinitionError([f"this is not valid YAML or JSON ({exc})"]) from exc
    return data


def load_definition(text: str) -> dict:
    """Parse and validate: the normalised definition, or DefinitionError with every problem."""
    return validate_definition(parse_definition_text(text))


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line text (intro, closing) dumped as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def dump_definition(definition: Mapping, fmt: str = "yaml") -> str:
    if fmt == "json":
        return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(
        dict(definition), Dumper=_BlockStyleDumper, sort_keys=False, allow_unicode=True, width=100
    )


