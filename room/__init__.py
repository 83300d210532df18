"""The call: its state machine, and the media peer the Python clients run."""
