"""Audio: PCM framing, resampling, WAV files and (later) the ALSA adapter."""
