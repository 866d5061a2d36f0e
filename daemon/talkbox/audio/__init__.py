"""Audio: format constants, pure frame helpers, device options, the ALSA adapter, WAV files."""
