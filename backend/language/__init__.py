"""Language-guided animation: a description in plain English → an emotion script → keys.

`rules` reads a description with our word and phrase grammar (its pieces: `steps`, `lexicon`,
`spelling`, `amounts`, `timing`, `parts`, `composition`; the tables in `words`), `embedding` the
optional sentence model for free phrasing, `describe` the pipeline that writes the script.
"""

from .describe import DEFAULT_FPS, Description, Match, describe, script_text
from .rules import read_description
from .steps import MAX_TEXT_CHARS, LanguageError, Step, Unknown

__all__ = ["DEFAULT_FPS", "MAX_TEXT_CHARS", "Description", "LanguageError", "Match", "Step", "Unknown", "describe",
           "read_description", "script_text"]
