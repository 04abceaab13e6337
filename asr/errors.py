"""The one exception type users see.

Every expected failure (bad audio, malformed data dir, missing word, unreadable model) raises
AsrError with a one-line message that names the file and what is wrong; the CLI prints it and
exits non-zero without a traceback. Anything else is a bug and keeps its traceback.
"""


class AsrError(Exception):
    """A user-facing error: the message is a single line naming the file and the problem."""
