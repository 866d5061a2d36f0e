"""What listens to the microphone on the box: the end of speech, the VADs, the wake word."""
