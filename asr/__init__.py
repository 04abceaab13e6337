"""asr: speech recognition toolkit."""
