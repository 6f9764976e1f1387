"""Survey definitions as data (see surveys/DEFINITION.md), in three rooms:

- `schema`: the keys, types and limits of a definition, and `validate_definition`;
- `loading`: YAML or JSON text in and out (`load_definition`, `dump_definition`);
- `walk`: the one reader of a validated definition, which every other module goes through.

No Flask, no database. A reader's answers to a page are read by `surveys.answers`.
"""

from surveys.definition.loading import dump_definition, load_definition
from surveys.definition.schema import DefinitionError, validate_definition

__all__ = ["DefinitionError", "dump_definition", "load_definition", "validate_definition"]
